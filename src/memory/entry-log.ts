import type { Fields } from '../core/codec.ts';
import { comparePositions, PositionClock } from './positions.ts';

/** One stored event: its position and its fields, as a Redis stream entry would hold them. */
export interface StoredEntry {
  readonly position: string;
  readonly fields: Readonly<Fields>;
}

/**
 * An append-only stream (one partition of a topic). Entries are never removed,
 * so an index into `entries` stays valid; listeners hear of every append.
 */
export class EntryLog {
  private readonly entries: StoredEntry[] = [];
  private readonly clock = new PositionClock();
  private readonly listeners = new Set<() => void>();

  get length(): number {
    return this.entries.length;
  }

  at(index: number): StoredEntry | undefined {
    return this.entries[index];
  }

  append(fields: Fields): StoredEntry {
    const entry: StoredEntry = {
      position: this.clock.next(),
      fields: Object.freeze({ ...fields }),
    };
    this.entries.push(entry);
    for (const listener of this.listeners) listener();
    return entry;
  }

  /** The index of the first entry after `position` (binary search: positions only grow). */
  indexAfter(position: string): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePositions((this.entries[mid] as StoredEntry).position, position) <= 0)
        lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Calls `listener` after every append; returns the function that stops it. */
  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A deletable, ordered log: a partition's dead letters. */
export class DeadLetterLog {
  private readonly entries = new Map<string, StoredEntry>();
  private readonly clock = new PositionClock();

  append(fields: Fields): StoredEntry {
    const entry: StoredEntry = {
      position: this.clock.next(),
      fields: Object.freeze({ ...fields }),
    };
    this.entries.set(entry.position, entry);
    return entry;
  }

  all(): StoredEntry[] {
    return [...this.entries.values()];
  }

  get(position: string): StoredEntry | undefined {
    return this.entries.get(position);
  }

  delete(position: string): boolean {
    return this.entries.delete(position);
  }
}
