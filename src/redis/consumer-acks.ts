/**
 * Acknowledgement batching for a subscription: events finished in the same
 * tick are acknowledged with one XACK per partition. Acks that fail (Redis
 * unreachable) are kept and retried; until then the events stay pending, which
 * is safe (at-least-once) but may cause a redelivery.
 */
import { withDeadline, type RedisConnection } from './connection.ts';
import type { PartitionKeys } from './keys.ts';

/** Longest wait for the replies of one flush; unanswered acks are kept and sent again. */
const ACK_TIMEOUT_MS = 10_000;
/** Pause before acks that failed are sent again. */
const ACK_RETRY_MS = 200;

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
      setImmediate(this.flushNow);
    }
  }

  /** Made once: a closure per tick costs more than the flush's own bookkeeping. */
  private readonly flushNow = (): void => {
    this.scheduled = false;
    this.flushing = this.flushing.then(this.flushNext);
  };

  private readonly flushNext = (): Promise<void> => this.flush();

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
    const batch = [...this.acks];
    this.acks.clear();
    // One deadline for the whole flush, not a node-redis timeout signal and a timer per XACK.
    const sent = new Array<Promise<unknown>>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const [p, ids] = batch[i] as [PartitionKeys, string[]];
      const args = ['XACK', p.stream, this.group];
      for (const id of ids) args.push(id);
      sent[i] = this.conn.send(args, {
        timeoutMs: ACK_TIMEOUT_MS,
        replyTimer: false,
        key: p.stream,
      });
    }
    const replies = await withDeadline(Promise.allSettled(sent), 'XACK', ACK_TIMEOUT_MS).catch(
      (e: unknown) => sent.map(() => ({ status: 'rejected', reason: e }) as const),
    );
    let failed = false;
    for (let i = 0; i < replies.length; i++) {
      if ((replies[i] as PromiseSettledResult<unknown>).status === 'fulfilled') continue;
      failed = true;
      const [p, ids] = batch[i] as [PartitionKeys, string[]];
      this.acks.set(p, [...(this.acks.get(p) ?? []), ...ids]);
    }
    if (failed && !this.stopped) {
      this.retryTimer = setTimeout(this.flushNow, ACK_RETRY_MS);
    }
  }
}
