import type { BackoffOptions } from './contract.ts';

export interface ResolvedBackoff {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly factor: number;
}

export function resolveBackoff(options: BackoffOptions | undefined): ResolvedBackoff {
  return {
    initialMs: options?.initialMs ?? 100,
    maxMs: options?.maxMs ?? 30_000,
    factor: options?.factor ?? 2,
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
