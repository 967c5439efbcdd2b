/**
 * Per-caller rate limit: a token bucket per caller (the token's name, or the
 * client address when the server runs without tokens). A request that finds
 * the bucket empty gets 429 with Retry-After.
 */

export interface RateLimitOptions {
  /** Requests per second, sustained. */
  readonly perSecond: number;
  /** Requests allowed in a burst. */
  readonly burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { perSecond: 200, burst: 400 };
/** Buckets idle this long are forgotten, so memory stays bounded. */
const FORGET_AFTER_MS = 10 * 60_000;

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private sweptAt = 0;

  constructor(
    private readonly options: RateLimitOptions,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Takes one request from the caller's bucket: 0 when allowed, else seconds to wait. */
  take(caller: string): number {
    const now = this.now();
    this.sweep(now);
    const { perSecond, burst } = this.options;
    const b = this.buckets.get(caller) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
    this.buckets.set(caller, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
  }

  private sweep(now: number): void {
    if (now - this.sweptAt < FORGET_AFTER_MS) return;
    this.sweptAt = now;
    for (const [k, b] of this.buckets) if (now - b.at > FORGET_AFTER_MS) this.buckets.delete(k);
  }
}
