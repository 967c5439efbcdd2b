/**
 * A consumer group on one partition: where the group has read up to, and the
 * entries it was given but has not acknowledged (the pending list), with who
 * holds each, since when, and how often it was delivered — the same
 * bookkeeping as a Redis consumer group (XREADGROUP / XCLAIM / XAUTOCLAIM / XACK).
 */
import type { EntryLog, StoredEntry } from './entry-log.ts';

export interface PendingEntry {
  readonly entry: StoredEntry;
  consumer: string;
  /** When it was last delivered or claimed (its idle time starts here). */
  deliveredAt: number;
  /** Deliveries so far: the attempt number of the latest one. */
  count: number;
}

export class GroupState {
  /** Insertion order is delivery order, which is stream order: claims scan oldest first. */
  private readonly pending = new Map<string, PendingEntry>();

  constructor(
    private readonly log: EntryLog,
    /** Index of the next entry the group has not been given yet. */
    private next: number,
  ) {}

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Gives up to `count` entries never delivered to the group to `consumer` (XREADGROUP `>`). */
  readNew(consumer: string, count: number, now: number = Date.now()): PendingEntry[] {
    const out: PendingEntry[] = [];
    while (out.length < count && this.next < this.log.length) {
      const entry = this.log.at(this.next++) as StoredEntry;
      const p: PendingEntry = { entry, consumer, deliveredAt: now, count: 1 };
      this.pending.set(entry.position, p);
      out.push(p);
    }
    return out;
  }

  /** Takes a pending entry over for `consumer` and counts a delivery (XCLAIM). Undefined once acknowledged. */
  claim(position: string, consumer: string, now: number = Date.now()): PendingEntry | undefined {
    const p = this.pending.get(position);
    if (p === undefined) return undefined;
    p.consumer = consumer;
    p.deliveredAt = now;
    p.count++;
    return p;
  }

  /** Claims up to `count` entries idle at least `minIdleMs`, oldest first (XAUTOCLAIM). */
  claimIdle(
    consumer: string,
    minIdleMs: number,
    count: number,
    now: number = Date.now(),
  ): PendingEntry[] {
    const out: PendingEntry[] = [];
    for (const p of this.pending.values()) {
      if (out.length >= count) break;
      if (now - p.deliveredAt < minIdleMs) continue;
      p.consumer = consumer;
      p.deliveredAt = now;
      p.count++;
      out.push(p);
    }
    return out;
  }

  /** Entries held by `consumer` (a consumer that restarts under its name takes them back). */
  heldBy(consumer: string): PendingEntry[] {
    return [...this.pending.values()].filter((p) => p.consumer === consumer);
  }

  /** Resets an entry's idle time without counting a delivery: its handler is still working on it. */
  touch(position: string, consumer: string, now: number = Date.now()): void {
    const p = this.pending.get(position);
    if (p === undefined) return;
    p.consumer = consumer;
    p.deliveredAt = now;
  }

  /** Acknowledges an entry; false when it was no longer pending (XACK's 0). */
  ack(position: string): boolean {
    return this.pending.delete(position);
  }
}
