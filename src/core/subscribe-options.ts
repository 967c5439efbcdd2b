/** Subscribe options with their defaults applied and checked; shared by every backend. */
import { resolveBackoff, type ResolvedBackoff } from './backoff.ts';
import type { SubscribeOptions } from './contract.ts';
import { ConfigError } from './errors.ts';

export interface ResolvedSubscribeOptions {
  readonly group: string;
  readonly concurrency: number;
  readonly batchSize: number;
  readonly maxAttempts: number;
  readonly visibilityMs: number;
  readonly backoff: ResolvedBackoff;
}

export function resolveSubscribeOptions<T>(options: SubscribeOptions<T>): ResolvedSubscribeOptions {
  if (!options.group || typeof options.group !== 'string') {
    throw new ConfigError('subscribe needs a group name');
  }
  const resolved = {
    concurrency: options.concurrency ?? 10,
    batchSize: options.batchSize ?? 100,
    maxAttempts: options.maxAttempts ?? 5,
    visibilityMs: options.visibilityTimeoutMs ?? 30_000,
  };
  for (const [name, v] of Object.entries(resolved)) {
    if (!Number.isInteger(v) || v < 1) {
      const option = name === 'visibilityMs' ? 'visibilityTimeoutMs' : name;
      throw new ConfigError(`subscribe option ${option} must be a positive integer, got ${v}`);
    }
  }
  const b = resolveBackoff(options.backoff);
  // A retry must come back before the visibility timeout, or another consumer would take the event over.
  const backoff = {
    ...b,
    maxMs: Math.max(1, Math.min(b.maxMs, Math.floor(resolved.visibilityMs / 2))),
  };
  return { group: options.group, ...resolved, backoff };
}
