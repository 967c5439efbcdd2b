/**
 * Remembers the event ids stored in a partition for the topic's dedupe window
 * (the in-memory twin of Redis's `dedupe:<id>` keys with a PX expiry).
 */
export class DedupeWindow {
  private readonly seen = new Map<
    string,
    { readonly position: string; readonly expiresAt: number }
  >();
  private nextSweepAt = 0;

  /** The position of the event stored with this id within the window, if any. */
  lookup(id: string, now: number = Date.now()): string | undefined {
    const record = this.seen.get(id);
    if (record === undefined) return undefined;
    if (record.expiresAt > now) return record.position;
    this.seen.delete(id);
    return undefined;
  }

  remember(id: string, position: string, windowMs: number, now: number = Date.now()): void {
    this.seen.set(id, { position, expiresAt: now + windowMs });
    this.sweep(now, windowMs);
  }

  /** Drops expired records now and then, so a long-lived backend does not keep every id forever. */
  private sweep(now: number, windowMs: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + Math.min(windowMs, 60_000);
    for (const [id, record] of this.seen) if (record.expiresAt <= now) this.seen.delete(id);
  }
}
