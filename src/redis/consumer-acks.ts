/**
 * Acknowledgement batching for a subscription: events finished in the same
 * tick are acknowledged with one XACK per partition. Acks that fail (Redis
 * unreachable) are kept and retried; until then the events stay pending, which
 * is safe (at-least-once) but may cause a redelivery.
 *
 * An XACK is not given a deadline of its own: its reply comes in order with the
 * replies of everything else on the connection, so an XACK left unanswered means
 * a silent connection, which the dead-peer watchdog drops (the XACK then fails and
 * is retried). Only closing waits for the acks in flight, and for at most
 * DRAIN_TIMEOUT_MS.
 */
import type { RedisConnection, SendOptions } from './connection.ts';
import type { PartitionKeys } from './keys.ts';

/** Longest wait, when closing, for the replies of the acks in flight. */
const DRAIN_TIMEOUT_MS = 10_000;
/** Pause before acks that failed are sent again. */
const ACK_RETRY_MS = 200;

export class AckBatcher {
  private readonly acks = new Map<PartitionKeys, string[]>();
  /** Send options per partition, made once (the key routes an XACK in a cluster). */
  private readonly options = new Map<PartitionKeys, SendOptions>();
  private scheduled = false;
  /** XACKs sent and not answered yet. */
  private inFlight = 0;
  private onIdle: (() => void) | undefined;
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
    this.flush();
  };

  /** Sends what is waiting; on close, after the last handlers finished. */
  async drain(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.flush();
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
      this.onIdle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private flush(): void {
    if (this.acks.size === 0) return;
    for (const [p, ids] of this.acks) this.send(p, ids);
    this.acks.clear();
  }

  private send(p: PartitionKeys, ids: string[]): void {
    const args = ['XACK', p.stream, this.group];
    for (const id of ids) args.push(id);
    this.inFlight++;
    // Sent as soon as the connection is ready (node-redis keeps it while offline); an ACL
    // refusal needs no name here: a failed ack is only kept and retried.
    this.conn.send(args, this.optionsOf(p)).then(this.acked, () => {
      this.acked();
      this.failed(p, ids);
    });
  }

  private optionsOf(p: PartitionKeys): SendOptions {
    let o = this.options.get(p);
    if (o === undefined) {
      o = { timeoutMs: DRAIN_TIMEOUT_MS, replyTimer: false, key: p.stream, nameRefusals: false };
      this.options.set(p, o);
    }
    return o;
  }

  private readonly acked = (): void => {
    this.inFlight--;
    if (this.inFlight === 0 && this.onIdle !== undefined) {
      const idle = this.onIdle;
      this.onIdle = undefined;
      idle();
    }
  };

  /** Keeps the ids of a failed XACK, to be sent again (unless closing). */
  private failed(p: PartitionKeys, ids: string[]): void {
    const list = this.acks.get(p);
    if (list) for (const id of ids) list.push(id);
    else this.acks.set(p, ids);
    if (!this.stopped && this.retryTimer === undefined) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.flush();
      }, ACK_RETRY_MS);
    }
  }
}
