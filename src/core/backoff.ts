import type { BackoffOptions } from './contract.ts';

export interface ResolvedBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
}

/** Retry backoff defaults (the delay is also capped at half the visibility timeout). */
export const BACKOFF_DEFAULTS: ResolvedBackoff = {
  /** Delay before the first retry. */
  initialMs: 100,
  /** Longest delay between two attempts. */
  maxMs: 30_000,
  /** Growth of the delay from one attempt to the next. */
  factor: 2,
};

export function resolveBackoff(options: BackoffOptions | undefined): ResolvedBackoff {
  return {
    initialMs: options?.initialMs ?? BACKOFF_DEFAULTS.initialMs,
    maxMs: options?.maxMs ?? BACKOFF_DEFAULTS.maxMs,
    factor: options?.factor ?? BACKOFF_DEFAULTS.factor,
  };
}

/**
 * Delay before retry number `attempt` (the attempt that just failed, from 1):
 * exponential with "full jitter" between half and the whole of the step, so
 * retries of many failed events do not arrive together.
 */
export function backoffDelay(
  b: ResolvedBackoff,
  attempt: number,
  random: () => number = Math.random,
): number {
  const step = Math.min(b.maxMs, b.initialMs * b.factor ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
