/**
 * The capacity guard: refuse new events before Redis runs out of memory, while
 * consumers keep reading, acknowledging and trimming (none of which Redis
 * refuses when it is full), so the system recovers by itself.
 *
 * It costs no round trip per publish: `INFO memory` is sampled on a timer and
 * each publish checks the last sample. Between two samples Redis's own `OOM`
 * reply is the backstop; the Redis backend already turns it into the same
 * CapacityError.
 */
import { errorMessage } from '../core/error-text.ts';
import { CapacityError, ConfigError } from '../core/errors.ts';
import type { RedisBackend } from '../redis/backend.ts';
import type { RedisConnection } from '../redis/connection.ts';
import { memoryOfInfo } from './inspect.ts';
import { opsLogger, type OpsLogger } from './log.ts';

export interface CapacityVerdict {
  /** False: publishes are refused. */
  readonly ok: boolean;
  readonly usedBytes: number;
  /** Redis's maxmemory; 0 when it has none (then the guard never refuses). */
  readonly limitBytes: number;
  /** used / limit, or undefined without a limit. */
  readonly ratio: number | undefined;
  readonly threshold: number;
  readonly policy: string;
  /** When the figures were read (ms since the epoch); 0 before the first sample. */
  readonly sampledAt: number;
  /** Why the last sample failed, when it did (the figures are then the previous ones). */
  readonly error?: string;
}

/** Decides from `INFO memory` figures whether a publish may go ahead. */
export function capacityVerdict(
  info: string | Record<string, string>,
  threshold: number,
  sampledAt = Date.now(),
): CapacityVerdict {
  const m = memoryOfInfo(info);
  const ratio = m.maxBytes > 0 ? m.usedBytes / m.maxBytes : undefined;
  return {
    ok: ratio === undefined || ratio < threshold,
    usedBytes: m.usedBytes,
    limitBytes: m.maxBytes,
    ratio,
    threshold,
    policy: m.policy,
    sampledAt,
  };
}

export interface MemoryPolicyProblem {
  readonly code: 'no-maxmemory' | 'evicting-policy';
  readonly message: string;
  /** The exact change that fixes it. */
  readonly fix: string;
}

/**
 * Checks the memory settings Herald depends on (for start-up warnings and
 * `herald doctor`): a maxmemory, and a policy that never evicts keys.
 * Takes `INFO` / `INFO memory` output, as text or parsed.
 */
export function checkMemoryPolicy(info: string | Record<string, string>): {
  ok: boolean;
  problems: MemoryPolicyProblem[];
} {
  const m = memoryOfInfo(info);
  const problems: MemoryPolicyProblem[] = [];
  if (m.maxBytes === 0) {
    problems.push({
      code: 'no-maxmemory',
      message:
        'Redis has no maxmemory: it grows until the operating system kills it, and the capacity guard cannot refuse publishes in time',
      fix: 'set a limit below the machine memory: CONFIG SET maxmemory <bytes> (and maxmemory <bytes> in redis.conf)',
    });
  }
  if (/^(allkeys|volatile)-/.test(m.policy)) {
    problems.push({
      code: 'evicting-policy',
      message:
        `maxmemory-policy is ${m.policy}: when memory is full Redis silently deletes keys ` +
        `(${m.policy.startsWith('allkeys') ? 'whole streams and their consumer groups' : 'the deduplication records, so retried publishes are stored twice'})`,
      fix: 'CONFIG SET maxmemory-policy noeviction (and maxmemory-policy noeviction in redis.conf)',
    });
  }
  return { ok: problems.length === 0, problems };
}

export interface CapacityGuardOptions {
  /** Refuse publishes when used/maxmemory reaches this fraction. Default 0.9. */
  readonly threshold?: number;
  /** How often memory is sampled. Default 1000 ms. */
  readonly sampleMs?: number;
  readonly logger?: OpsLogger;
}

export interface CapacityGuard {
  /** The last sample's verdict. */
  verdict(): CapacityVerdict;
  /** Samples now (the timer does it every `sampleMs`). */
  sample(): Promise<CapacityVerdict>;
  /** Stops sampling and removes the guard: publishes are no longer checked. */
  stop(): void;
}

function refusal(topic: string, v: CapacityVerdict): CapacityError {
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(1)} MB`;
  return new CapacityError(
    `publish to '${topic}' refused: Redis memory is at ${pct(v.ratio ?? 0)} of maxmemory ` +
      `(${mb(v.usedBytes)} of ${mb(v.limitBytes)}; Herald refuses from ${pct(v.threshold)}). ` +
      'Nothing was written; retry once consumers have caught up and retention has trimmed.',
    { usedBytes: v.usedBytes, limitBytes: v.limitBytes, threshold: v.threshold },
  );
}

async function readVerdict(conn: RedisConnection, threshold: number): Promise<CapacityVerdict> {
  return capacityVerdict(
    String(await conn.send(['INFO', 'memory'], { timeoutMs: 5000 })),
    threshold,
  );
}

/**
 * Installs the capacity guard on a Redis backend: samples memory now (and warns
 * about a missing maxmemory or an evicting policy), then every `sampleMs`;
 * publishes are refused with a CapacityError while used/maxmemory ≥ threshold.
 */
export async function enableCapacityGuard(
  backend: Pick<RedisBackend, 'conn' | 'addHook'>,
  options: CapacityGuardOptions = {},
): Promise<CapacityGuard> {
  const threshold = options.threshold ?? 0.9;
  const sampleMs = options.sampleMs ?? 1000;
  if (!(threshold > 0 && threshold <= 1))
    throw new ConfigError(`capacity threshold must be in (0, 1], got ${threshold}`);
  if (!(sampleMs > 0)) throw new ConfigError(`capacity sampleMs must be positive, got ${sampleMs}`);
  const logger = opsLogger(options.logger);

  let current = await readVerdict(backend.conn, threshold);
  for (const p of checkMemoryPolicy({
    used_memory: String(current.usedBytes),
    maxmemory: String(current.limitBytes),
    maxmemory_policy: current.policy,
  }).problems) {
    logger.warn({ problem: p.code, fix: p.fix }, `herald: ${p.message}. Fix: ${p.fix}`);
  }

  let sampling: Promise<CapacityVerdict> | undefined;
  const sample = (): Promise<CapacityVerdict> => {
    sampling ??= readVerdict(backend.conn, threshold)
      .then(
        (v) => (current = v),
        (e: unknown) => (current = { ...current, error: errorMessage(e) }),
      )
      .finally(() => (sampling = undefined));
    return sampling;
  };
  const timer = setInterval(() => void sample(), sampleMs);
  timer.unref();

  const guard = (topic: { name: string }): void => {
    if (!current.ok) throw refusal(topic.name, current);
  };
  const removeGuard = backend.addHook('beforePublish', guard);
  const handle: CapacityGuard = {
    verdict: () => current,
    sample,
    stop() {
      clearInterval(timer);
      removeGuard();
      removeCloseHook();
    },
  };
  const removeCloseHook = backend.addHook('close', () => handle.stop());
  return handle;
}
