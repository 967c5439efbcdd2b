/**
 * Retention: keep each partition of a topic to a count and/or an age.
 *
 * Safe by default: an entry some consumer group has not read yet, or holds
 * pending, is never trimmed; the trim stops at the lowest such id (the safe
 * floor, computed and applied atomically in retention-trim.lua). `unsafe: true`
 * trims past it, and what was removed before a group acknowledged it is
 * counted, logged and reported to the backend's `onTrimmedBeforeAck` hook.
 *
 * Trimming runs in the background (startRetention), not on publish: an
 * XADD … MAXLEN cannot know which entries a lagging group still needs.
 */
import { ConfigError } from '../core/errors.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisBackend } from '../redis/backend.ts';
import type { RedisConnection } from '../redis/connection.ts';
import { allPartitionKeys } from '../redis/keys.ts';
import { loadScript, runScript } from '../redis/scripts.ts';
import { resolveTopic, type TopicRef } from './inspect.ts';
import { opsLogger, type OpsLogger } from './log.ts';

const trimScript = loadScript('retention-trim', new URL('./lua/', import.meta.url));

export interface TrimOptions {
  /** Keep about this many entries per partition. */
  readonly maxLen?: number;
  /** Keep entries younger than this (by their id's timestamp, Redis's clock). */
  readonly maxAgeMs?: number;
  /** Trim entries that some group has not read or acknowledged. Default false. */
  readonly unsafe?: boolean;
  /**
   * Trim whole stream nodes only (MINID ~): cheaper, keeps a few more entries
   * than asked. Default true; false trims exactly.
   */
  readonly approximate?: boolean;
  /** Now, in ms, for the age rule. Default: Date.now(). */
  readonly now?: number;
  /** Entries examined per partition per call by the count rule and the counters. Default 10 000. */
  readonly scanLimit?: number;
  /**
   * Remove nothing: `trimmed` says how many entries an exact trim would remove now (per-group
   * losses are not computed). Default false.
   */
  readonly dryRun?: boolean;
}

export interface GroupTrimLoss {
  readonly group: string;
  /** Removed before the group read them. */
  readonly unread: number;
  /** Removed while delivered to the group but not acknowledged. */
  readonly pending: number;
}

export interface PartitionTrimResult {
  readonly partition: number;
  readonly stream: string;
  /** Entries removed. */
  readonly trimmed: number;
  /** Entries the rules would have removed but that a group still needs (kept; at most scanLimit). */
  readonly skippedBecauseUnread: number;
  /** Entries removed before some group acknowledged them (unsafe only), summed over groups. */
  readonly trimmedUnacked: number;
  readonly losses: readonly GroupTrimLoss[];
  /** The lowest id some group still needs, or undefined when none needs anything. */
  readonly floorId: string | undefined;
  /** Dry run only: `trimmed` is a lower bound (more entries than the scan limit to count). */
  readonly atLeast?: boolean;
}

function positiveInt(name: string, v: number | undefined, min: number): void {
  if (v !== undefined && (!Number.isInteger(v) || v < min)) {
    throw new ConfigError(`retention ${name} must be an integer ≥ ${min}, got ${v}`);
  }
}

/**
 * Trims every partition of a topic by count and/or age, safely unless
 * `unsafe`. One script call per partition, all sent at once. A topic given by
 * name is looked up in the registry.
 */
export async function trimTopic(
  conn: RedisConnection,
  prefix: string,
  topic: TopicRef,
  options: TrimOptions,
): Promise<PartitionTrimResult[]> {
  positiveInt('maxLen', options.maxLen, 0);
  positiveInt('maxAgeMs', options.maxAgeMs, 1);
  positiveInt('scanLimit', options.scanLimit, 1);
  if (options.maxLen === undefined && options.maxAgeMs === undefined) return [];
  const t = await resolveTopic(conn, prefix, topic);
  const ageCut =
    options.maxAgeMs === undefined
      ? ''
      : `${Math.max(0, Math.floor((options.now ?? Date.now()) - options.maxAgeMs))}-0`;
  const args = [
    options.maxLen === undefined ? '' : String(options.maxLen),
    ageCut,
    options.unsafe ? '1' : '0',
    options.approximate === false ? '0' : '1',
    String(options.scanLimit ?? 10_000),
    options.dryRun === true ? '1' : '0',
  ];
  const parts = allPartitionKeys(prefix, t);
  const replies = await Promise.all(
    parts.map((p) => runScript<(string | number)[]>(conn, trimScript, [p.stream], args)),
  );
  return replies.map((r, i) => {
    const losses: GroupTrimLoss[] = [];
    for (let j = 3; options.dryRun !== true && j + 2 < r.length; j += 3) {
      losses.push({ group: String(r[j]), unread: Number(r[j + 1]), pending: Number(r[j + 2]) });
    }
    const p = parts[i] as (typeof parts)[number];
    return {
      partition: p.partition,
      stream: p.stream,
      trimmed: Number(r[0]),
      skippedBecauseUnread: Number(r[1]),
      trimmedUnacked: losses.reduce((n, l) => n + l.unread + l.pending, 0),
      losses,
      floorId: typeof r[2] === 'string' && r[2] !== '' ? r[2] : undefined,
      ...(options.dryRun === true ? { atLeast: Number(r[3] ?? 0) === 1 } : {}),
    };
  });
}

export interface RetentionOptions {
  readonly logger?: OpsLogger;
  /** Trim whole stream nodes only (cheaper). Default true; false trims exactly. */
  readonly approximate?: boolean;
  /** Now, in ms, for the age rule. Default: Date.now(). */
  readonly now?: number;
}

/**
 * Applies a topic's declared `retention` once. Unsafe trims that removed
 * unacknowledged events are logged, and the events a group never read are
 * reported to `backend.deliveryHooks.onTrimmedBeforeAck` (the metric
 * `herald_trimmed_unacked_total`). Pending ones are not reported here: the
 * group's consumer may still finish them (it holds the data), and one that
 * never does finds them gone when it reclaims and reports them itself.
 */
export async function applyRetention(
  backend: Pick<RedisBackend, 'conn' | 'prefix' | 'deliveryHooks'>,
  topic: Topic<unknown>,
  options: RetentionOptions = {},
): Promise<PartitionTrimResult[]> {
  const r = topic.retention;
  if (!r || (r.maxLen === undefined && r.maxAgeMs === undefined)) return [];
  const results = await trimTopic(backend.conn, backend.prefix, topic, {
    ...(r.maxLen !== undefined ? { maxLen: r.maxLen } : {}),
    ...(r.maxAgeMs !== undefined ? { maxAgeMs: r.maxAgeMs } : {}),
    unsafe: r.unsafe ?? false,
    approximate: options.approximate ?? true,
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
  const lost = results.filter((p) => p.trimmedUnacked > 0);
  if (lost.length > 0) {
    const byGroup = new Map<string, { unread: number; pending: number }>();
    for (const p of lost) {
      for (const l of p.losses) {
        const g = byGroup.get(l.group) ?? { unread: 0, pending: 0 };
        g.unread += l.unread;
        g.pending += l.pending;
        byGroup.set(l.group, g);
      }
    }
    for (const [group, g] of byGroup) {
      if (g.unread > 0) backend.deliveryHooks.onTrimmedBeforeAck?.(topic.name, group, g.unread);
      opsLogger(options.logger).warn(
        { topic: topic.name, group, unread: g.unread, pending: g.pending },
        `herald: unsafe retention trimmed ${g.unread + g.pending} event(s) of topic '${topic.name}' ` +
          `before group '${group}' acknowledged them (${g.unread} unread, ${g.pending} pending)`,
      );
    }
  }
  return results;
}

export interface BackgroundRetentionOptions extends RetentionOptions {
  /** Pause between two passes over the topics. Default 5000 ms. */
  readonly intervalMs?: number;
  /** Called after each pass with every topic's results. */
  readonly onPass?: (results: ReadonlyMap<string, readonly PartitionTrimResult[]>) => void;
}

export interface BackgroundRetention {
  /** Runs one pass now (or waits for the running one) and returns its results. */
  runOnce(): Promise<ReadonlyMap<string, readonly PartitionTrimResult[]>>;
  /** Stops the timer and waits for a pass under way. */
  stop(): Promise<void>;
}

/**
 * Applies the topics' declared retention every `intervalMs`, one pass at a
 * time. Errors (Redis unreachable) are logged and the next pass tries again.
 */
export function startRetention(
  backend: Pick<RedisBackend, 'conn' | 'prefix' | 'deliveryHooks'>,
  topics: readonly Topic<unknown>[],
  options: BackgroundRetentionOptions = {},
): BackgroundRetention {
  const intervalMs = options.intervalMs ?? 5000;
  positiveInt('intervalMs', intervalMs, 1);
  const logger = opsLogger(options.logger);
  let running: Promise<Map<string, PartitionTrimResult[]>> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const pass = async (): Promise<Map<string, PartitionTrimResult[]>> => {
    const out = new Map<string, PartitionTrimResult[]>();
    for (const t of topics) {
      try {
        out.set(t.name, await applyRetention(backend, t, { ...options, logger }));
      } catch (e) {
        logger.error(
          { topic: t.name, err: e },
          `herald: retention of topic '${t.name}' failed; retrying next pass`,
        );
      }
    }
    options.onPass?.(out);
    return out;
  };
  const runOnce = (): Promise<Map<string, PartitionTrimResult[]>> => {
    running ??= pass().finally(() => (running = undefined));
    return running;
  };
  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => void runOnce().finally(schedule), intervalMs);
    timer.unref();
  };
  schedule();

  return {
    runOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
