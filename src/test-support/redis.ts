/**
 * Test helpers shared by every test in the project.
 *
 * The suite runner (scripts/run-tests.mjs, started by `npm test`) starts ONE redis-server
 * and passes its URL in HERALD_TEST_REDIS_URL. Tests isolate themselves by key prefix
 * (uniquePrefix) and never FLUSHALL. Tests that need to restart or kill Redis start their
 * own server with startRedisServer().
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';

export { startRedisServer } from '../embedded/redis-server.ts';
export type { RedisServerHandle, RedisServerOptions } from '../embedded/redis-server.ts';

/** URL of the suite's shared Redis; throws if the test was not started by the runner. */
export function testRedisUrl(): string {
  const url = process.env.HERALD_TEST_REDIS_URL;
  if (url === undefined || url === '') {
    throw new Error(
      'HERALD_TEST_REDIS_URL is not set: run tests with `npm test`, or for a quick run ' +
        '`node --import tsx scripts/run-tests.mjs <path filter>` (it starts a Redis for the suite).',
    );
  }
  return url;
}

/** A fresh key prefix such as `t:orders:1f2e3d4c` (or `t:1f2e3d4c` without a name). */
export function uniquePrefix(name?: string): string {
  const id = randomBytes(4).toString('hex');
  return name === undefined || name === '' ? `t:${id}` : `t:${name}:${id}`;
}

/** The suite's URL (or any) with a user and password: for tests of ACL users. */
export function urlWithUser(url: string, user: string, password: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = password;
  return u.toString();
}

export interface WaitForOptions {
  /** Default 15000. */
  timeoutMs?: number;
  /** Default 10. */
  intervalMs?: number;
  /** Prefix of the timeout error message. */
  message?: string;
}

/**
 * Poll `fn` until it returns (or resolves to) a truthy value, and return that value.
 * If `fn` throws, that counts as "not yet" (so assertions can be used inside); the last
 * error is reported if the timeout is reached.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, opts: WaitForOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const intervalMs = opts.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  let lastValue: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value) return value;
      lastValue = value;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail =
        lastError !== undefined
          ? `last error: ${lastError instanceof Error ? lastError.message : inspect(lastError)}`
          : `last value: ${inspect(lastValue)}`;
      const error = new Error(
        `${opts.message ?? 'waitFor: condition not met'} (timed out after ${timeoutMs} ms; ${detail})`,
      );
      if (lastError !== undefined) error.cause = lastError;
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
