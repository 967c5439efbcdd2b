/** Subscribe options with their defaults applied and checked; shared by every backend. */
import { resolveBackoff, type ResolvedBackoff } from './backoff.ts';
import type { SubscribeOptions } from './contract.ts';
import { ConfigError } from './errors.ts';

/**
 * Defaults of subscribe options, one place (watermill-redisstream's `Default*` as the model).
 */
export const SUBSCRIBE_DEFAULTS = {
  /** Handlers running at once per subscription. */
  concurrency: 10,
  /** Events read per request; up to one more batch is read ahead while handlers run. */
  batchSize: 100,
  /** Deliveries before an event is dead-lettered (the first delivery counts). */
  maxAttempts: 5,
  /** How long an event may be held without a heartbeat before another consumer takes it over. */
  visibilityTimeoutMs: 30_000,
  /** Ordered subscriptions: a dead instance's partitions move to the others within this bound. */
  rebalanceWithinMs: 15_000,
} as const;

/** The smallest rebalance bound accepted (a shorter lease would expire under ordinary GC pauses). */
export const MIN_REBALANCE_WITHIN_MS = 1000;

export interface ResolvedSubscribeOptions {
  readonly group: string;
  readonly concurrency: number;
  readonly batchSize: number;
  readonly maxAttempts: number;
  readonly visibilityMs: number;
  readonly backoff: ResolvedBackoff;
  /** Ordered subscriptions: partition ownership, one event at a time per partition. */
  readonly ordered: boolean;
  readonly rebalanceWithinMs: number;
}

export function resolveSubscribeOptions<T>(options: SubscribeOptions<T>): ResolvedSubscribeOptions {
  if (!options.group || typeof options.group !== 'string') {
    throw new ConfigError('subscribe needs a group name');
  }
  const resolved = {
    concurrency: options.concurrency ?? SUBSCRIBE_DEFAULTS.concurrency,
    batchSize: options.batchSize ?? SUBSCRIBE_DEFAULTS.batchSize,
    maxAttempts: options.maxAttempts ?? SUBSCRIBE_DEFAULTS.maxAttempts,
    visibilityMs: options.visibilityTimeoutMs ?? SUBSCRIBE_DEFAULTS.visibilityTimeoutMs,
  };
  for (const [name, v] of Object.entries(resolved)) {
    if (!Number.isInteger(v) || v < 1) {
      const option = name === 'visibilityMs' ? 'visibilityTimeoutMs' : name;
      throw new ConfigError(`subscribe option ${option} must be a positive integer, got ${v}`);
    }
  }
  const rebalanceWithinMs = options.rebalanceWithinMs ?? SUBSCRIBE_DEFAULTS.rebalanceWithinMs;
  if (!Number.isInteger(rebalanceWithinMs) || rebalanceWithinMs < MIN_REBALANCE_WITHIN_MS) {
    throw new ConfigError(
      `subscribe option rebalanceWithinMs must be an integer of at least ${MIN_REBALANCE_WITHIN_MS}, got ${rebalanceWithinMs}`,
    );
  }
  if (options.ordered !== undefined && typeof options.ordered !== 'boolean') {
    throw new ConfigError(
      `subscribe option ordered must be a boolean, got ${String(options.ordered)}`,
    );
  }
  const b = resolveBackoff(options.backoff);
  // A retry must come back before the visibility timeout, or another consumer would take the event over.
  const backoff = {
    ...b,
    maxMs: Math.max(1, Math.min(b.maxMs, Math.floor(resolved.visibilityMs / 2))),
  };
  return {
    group: options.group,
    ...resolved,
    backoff,
    ordered: options.ordered ?? false,
    rebalanceWithinMs,
  };
}
