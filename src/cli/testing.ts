/**
 * Test helpers for the CLI: run `node bin/herald.mjs …` as a user would, as a
 * child process, and capture its output and exit code.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pairs } from '../core/codec.ts';
import type { Subscription } from '../core/contract.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisBackend } from '../redis/backend.ts';
import { allPartitionKeys } from '../redis/keys.ts';
import { waitFor } from '../test-support/redis.ts';

const BIN = fileURLToPath(new URL('../../bin/herald.mjs', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Written to stdin, which is then closed. Default: stdin closed at once. */
  readonly input?: string;
  /** Extra environment variables. */
  readonly env?: Record<string, string>;
}

/** A running `herald` process. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the output once the process has exited. */
  readonly exited: Promise<CliResult>;
  /** Waits until stdout or stderr satisfies the predicate (generous default timeout). */
  waitForOutput(
    stream: 'stdout' | 'stderr',
    predicate: (text: string) => boolean,
    timeoutMs?: number,
  ): Promise<void>;
  /** Kills the process if it still runs (for cleanup in finally). */
  kill(): void;
}

function cleanEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  // The tests pass --url explicitly; a developer's REDIS_URL must not leak in.
  if (extra?.REDIS_URL === undefined) delete env.REDIS_URL;
  if (extra?.HERALD_DEBUG === undefined) delete env.HERALD_DEBUG;
  return env;
}

/** Starts `node bin/herald.mjs ...args`. */
export function spawnHerald(args: readonly string[], options: RunOptions = {}): CliProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: cleanEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  if (options.input !== undefined) child.stdin.end(options.input);
  else child.stdin.end();
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    async waitForOutput(stream, predicate, timeoutMs = 20_000) {
      await waitFor(() => predicate(stream === 'stdout' ? out : err), {
        timeoutMs,
        intervalMs: 20,
        message: `herald ${args.join(' ')}: expected ${stream} not seen (stdout: ${out.slice(-500)} / stderr: ${err.slice(-500)})`,
      });
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** Runs `node bin/herald.mjs ...args` to the end. */
export async function runHerald(
  args: readonly string[],
  options: RunOptions = {},
): Promise<CliResult> {
  return spawnHerald(args, options).exited;
}

/** Parses stdout as JSON, failing with the output shown when it is not. */
export function parseJson<T = unknown>(result: CliResult): T {
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `stdout is not JSON (exit ${result.code}):\n${result.stdout}\nstderr:\n${result.stderr}`,
    );
  }
}

/** Parses stdout as one JSON document per line. */
export function parseJsonLines<T = unknown>(result: CliResult | string): T[] {
  const text = typeof result === 'string' ? result : result.stdout;
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as T);
}

/**
 * Makes dead letters the way production does: subscribes `group` with
 * maxAttempts 1 and a handler that throws for the events whose data `fails`,
 * waits until the group has `expected` dead letters, then closes the subscription.
 */
export async function deadLetterAll(
  backend: RedisBackend,
  topic: Topic,
  group: string,
  fails: (data: { n: number }) => boolean,
  expected: number,
): Promise<void> {
  const dlqLength = async (): Promise<number> => {
    let n = 0;
    for (const p of allPartitionKeys(backend.prefix, topic)) {
      const rows = await backend.conn.send<[string, string[]][]>(['XRANGE', p.dlq, '-', '+']);
      n += rows.filter(([, f]) => pairs(f)['herald-dlq-group'] === group).length;
    }
    return n;
  };
  const sub: Subscription = backend.subscribe(
    topic,
    { group, startFrom: 'beginning', maxAttempts: 1, batchSize: 500, concurrency: 200 },
    (e) => {
      if (fails(e.data as { n: number }))
        throw new Error(`${group} refused ${JSON.stringify(e.data)}`);
    },
  );
  try {
    await sub.ready;
    await waitFor(async () => (await dlqLength()) === expected, {
      timeoutMs: 30_000,
      message: `${expected} dead letters for ${group}`,
    });
  } finally {
    await sub.close();
  }
}
