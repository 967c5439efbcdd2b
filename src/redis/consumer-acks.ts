/**
 * Acknowledgement batching for a subscription: events finished in the same
 * tick are acknowledged with one XACK per partition. Acks that fail (Redis
 * unreachable) are kept and retried; until then the events stay pending, which
 * is safe (at-least-once) but may cause a redelivery.
 */
import type { RedisConnection } from './connection.ts';
import type { PartitionKeys } from './keys.ts';

export class AckBatcher {
  private readonly acks = new Map<PartitionKeys, string[]>();
  private scheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly conn: RedisConnection,
    private readonly group: string,
  ) {}

  add(p: PartitionKeys, position: string): void {
    let list = this.acks.get(p);
    if (!list) {
      list = [];
      this.acks.set(p, list);
    }
    list.push(position);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flushing = this.flushing.then(() => this.flush());
      });
    }
  }

  /** Sends what is waiting; on close, after the last handlers finished. */
  async drain(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await new Promise<void>((resolve) => setImmediate(resolve));
    await this.flushing.catch(() => {});
    await this.flush().catch(() => {});
  }

  private async flush(): Promise<void> {
    if (this.acks.size === 0) return;
    const batch = [...this.acks.entries()];
    this.acks.clear();
    const replies = await this.conn.pipeline(
      batch.map(([p, ids]) => ['XACK', p.stream, this.group, ...ids]),
      { timeoutMs: 10_000 },
    );
    let failed = false;
    replies.forEach((r, i) => {
      if (!(r instanceof Error)) return;
      failed = true;
      const [p, ids] = batch[i] as [PartitionKeys, string[]];
      this.acks.set(p, [...(this.acks.get(p) ?? []), ...ids]);
    });
    if (failed && !this.stopped) {
      this.retryTimer = setTimeout(() => {
        this.flushing = this.flushing.then(() => this.flush());
      }, 200);
    }
  }
}
