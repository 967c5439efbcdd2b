/**
 * "Stalled" as the console shows it: a group with unread or held events whose
 * position has not moved for a while. A group's progress signature is its
 * last-delivered position on every partition plus its pending count; while
 * the signature stays the same and there is work (lag or pending > 0), the
 * stall clock runs.
 */

export interface GroupProgress {
  readonly key: string;
  /** Changes whenever the group reads or acknowledges. */
  readonly signature: string;
  /** True when the group has events to read or to acknowledge. */
  readonly hasWork: boolean;
}

export interface StallVerdict {
  readonly stalled: boolean;
  /** Seconds since the group last made progress (while it had work); 0 when idle or moving. */
  readonly stuckSeconds: number;
}

export class StallTracker {
  private readonly seen = new Map<string, { signature: string; since: number }>();

  constructor(private readonly stallAfterMs: number) {}

  /** Records one sample of every group; groups not in it are forgotten. */
  update(groups: readonly GroupProgress[], now: number): Map<string, StallVerdict> {
    const out = new Map<string, StallVerdict>();
    const keep = new Set<string>();
    for (const g of groups) {
      keep.add(g.key);
      const prev = this.seen.get(g.key);
      if (!prev || prev.signature !== g.signature || !g.hasWork) {
        this.seen.set(g.key, { signature: g.signature, since: now });
        out.set(g.key, { stalled: false, stuckSeconds: 0 });
        continue;
      }
      const stuckMs = now - prev.since;
      out.set(g.key, { stalled: stuckMs >= this.stallAfterMs, stuckSeconds: stuckMs / 1000 });
    }
    for (const k of this.seen.keys()) if (!keep.has(k)) this.seen.delete(k);
    return out;
  }
}
