/**
 * Checks per-key order for ordered subscriptions: record every handled event as (key, seq),
 * where seq counts up per key in publish order, then report the keys handled out of order.
 *
 * At-least-once delivery re-delivers (after a crash, or the one event a fenced instance was
 * handling when it lost its partition): a handling of a (key, seq) seen before is counted as
 * a re-delivery, not as disorder. Disorder is a FIRST handling of seq s after a higher seq of
 * the same key was handled: an event overtaken by a later one of its key.
 */
import assert from 'node:assert/strict';

export interface OutOfOrder {
  readonly key: string;
  /** The event handled for the first time… */
  readonly seq: number;
  /** …after this later one of its key. */
  readonly after: number;
}

export interface OrderingReport {
  readonly keys: number;
  /** Handlings in total (re-deliveries included). */
  readonly handled: number;
  /** Handlings of a (key, seq) handled before. */
  readonly redeliveries: number;
  /** First handlings that came after a later event of the same key. */
  readonly outOfOrder: number;
  /** The first 20 of them. */
  readonly samples: readonly OutOfOrder[];
}

const SAMPLE = 20;

export class OrderingChecker {
  private readonly seen = new Map<string, { max: number; seqs: Set<number> }>();
  private handledTotal = 0;
  private redeliveries = 0;
  private outOfOrder = 0;
  private readonly samples: OutOfOrder[] = [];

  /** Records one handling of the event `seq` of `key`, in the order handlings happened. */
  handled(key: string, seq: number): void {
    this.handledTotal++;
    let k = this.seen.get(key);
    if (k === undefined) {
      k = { max: -Infinity, seqs: new Set() };
      this.seen.set(key, k);
    }
    if (k.seqs.has(seq)) {
      this.redeliveries++;
      return;
    }
    k.seqs.add(seq);
    if (seq < k.max) {
      this.outOfOrder++;
      if (this.samples.length < SAMPLE) this.samples.push({ key, seq, after: k.max });
      return;
    }
    k.max = seq;
  }

  report(): OrderingReport {
    return {
      keys: this.seen.size,
      handled: this.handledTotal,
      redeliveries: this.redeliveries,
      outOfOrder: this.outOfOrder,
      samples: [...this.samples],
    };
  }
}

export function describeOrdering(r: OrderingReport): string {
  const parts = [
    `keys ${r.keys}`,
    `handled ${r.handled}`,
    `re-deliveries ${r.redeliveries}`,
    `out of order ${r.outOfOrder}`,
  ];
  if (r.samples.length > 0) {
    parts.push(`first: ${r.samples.map((s) => `${s.key}#${s.seq} after #${s.after}`).join(', ')}`);
  }
  return parts.join('; ');
}

/** Fails with a readable message when any key's events were handled out of order. */
export function assertInOrder(report: OrderingReport): void {
  if (report.outOfOrder > 0) assert.fail(`ordering check failed: ${describeOrdering(report)}`);
}
