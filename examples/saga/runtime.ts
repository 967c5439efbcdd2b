/**
 * What every saga service shares: its configuration from the environment, and
 * running as a process of its own (ready line, graceful stop on SIGTERM/SIGINT).
 *
 * Environment:
 *   REDIS_URL        Redis to use (default redis://127.0.0.1:6379)
 *   DEMO_PREFIX      prefix of the services' private keys (default 'demo': demo:order:*, demo:payment:*, …)
 *   HERALD_PREFIX    prefix of Herald's stream keys (default 'herald')
 *   VISIBILITY_MS    how long an event held by a dead consumer waits before another takes it (default 5000)
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runAsMain as runServiceAsMain } from '../../src/index.ts';

export interface ServiceConfig {
  readonly redisUrl: string;
  /** Services' private keys are `<keyPrefix>:<service>:…`. */
  readonly keyPrefix: string;
  readonly heraldPrefix: string;
  /** Subscriptions' visibility timeout, and the idempotency lease. */
  readonly visibilityTimeoutMs: number;
  /** Handlers running at once per subscription. */
  readonly concurrency: number;
}

/** A running service. `close()` stops its subscriptions gracefully and closes its connections. */
export interface RunningService {
  readonly name: string;
  close(): Promise<void>;
}

export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ServiceConfig {
  const visibility = Number(env.VISIBILITY_MS ?? 5000);
  return {
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    keyPrefix: env.DEMO_PREFIX ?? 'demo',
    heraldPrefix: env.HERALD_PREFIX ?? 'herald',
    visibilityTimeoutMs: Number.isInteger(visibility) && visibility > 0 ? visibility : 5000,
    concurrency: 20,
  };
}

/** True when `moduleUrl` is the file node was started with (`node --import tsx file.ts`). */
export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/**
 * Starts a service as this process's job with Herald's `runAsMain` (graceful close on SIGTERM or
 * SIGINT: in-flight handlers finish, nothing is lost) and prints `<name> ready` on stdout once it
 * runs: the demo waits for that line.
 */
export function runAsMain(name: string, start: () => Promise<RunningService>): void {
  void runServiceAsMain(name, start).then(() => console.log(`${name} ready`));
}
