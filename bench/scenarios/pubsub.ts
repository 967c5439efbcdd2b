/**
 * Pub/sub notification latency at a fixed offered rate: raw node-redis
 * PUBLISH/SUBSCRIBE (JSON payload, parsed by the listener) and Herald's
 * notifier (src/redis/notifications.ts) carrying the same payload.
 */
import { connectRedis, RedisNotifier } from '../../src/index.ts';
import { latencyAt, type Pipe } from '../drive.ts';
import { makePayload, SMALL, type OrderPayload } from '../payload.ts';
import type { RunResult, ScenarioContext } from '../types.ts';
import { client, type RawClient } from './raw.ts';

/** A Pipe over fire-and-forget messages: nothing to acknowledge, so always settled. */
abstract class NotifyPipe implements Pipe {
  onDelivery: ((data: OrderPayload) => void) | undefined;
  protected count = 0;

  protected received(data: OrderPayload): void {
    this.count++;
    this.onDelivery?.(data);
  }

  abstract publishOne(seq: number, t: number): Promise<unknown>;
  abstract close(): Promise<void>;

  async publishBatch(from: number, n: number): Promise<void> {
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) all.push(this.publishOne(from + i, 0));
    await Promise.all(all);
  }

  delivered(): number {
    return this.count;
  }

  settled(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

class RawPubSub extends NotifyPipe {
  private constructor(
    private readonly pub: RawClient,
    private readonly sub: RawClient,
    private readonly channel: string,
  ) {
    super();
  }

  static async open(url: string, channel: string): Promise<RawPubSub> {
    const pub = await client(url);
    const sub = await client(url);
    const pipe = new RawPubSub(pub, sub, channel);
    await sub.subscribe(channel, (message) => pipe.received(JSON.parse(message) as OrderPayload));
    return pipe;
  }

  publishOne(seq: number, t: number): Promise<unknown> {
    return this.pub.sendCommand([
      'PUBLISH',
      this.channel,
      JSON.stringify(makePayload(seq, SMALL, t)),
    ]);
  }

  async close(): Promise<void> {
    await this.sub.close();
    await this.pub.close();
  }
}

class HeraldNotify extends NotifyPipe {
  private constructor(
    private readonly notifier: RedisNotifier,
    private readonly close_: () => Promise<void>,
  ) {
    super();
  }

  static async open(ctx: ScenarioContext): Promise<HeraldNotify> {
    const conn = await connectRedis({ url: ctx.url });
    const notifier = new RedisNotifier(conn, ctx.keyPrefix);
    const pipe = new HeraldNotify(notifier, async () => {
      await notifier.close();
      await conn.close();
    });
    await notifier.listen<OrderPayload>('orders', (n) => pipe.received(n.data));
    return pipe;
  }

  publishOne(seq: number, t: number): Promise<unknown> {
    return this.notifier.notify('orders', makePayload(seq, SMALL, t));
  }

  close(): Promise<void> {
    return this.close_();
  }
}

async function withPipe(
  open: () => Promise<NotifyPipe>,
  run: (p: NotifyPipe) => Promise<RunResult>,
): Promise<RunResult> {
  const pipe = await open();
  try {
    return await run(pipe);
  } finally {
    await pipe.close();
  }
}

export const rawPubSubLatency =
  (rate: number) =>
  (ctx: ScenarioContext): Promise<RunResult> =>
    withPipe(
      () => RawPubSub.open(ctx.url, `${ctx.keyPrefix}:orders`),
      (p) => latencyAt(ctx, p, rate),
    );

export const heraldNotifyLatency =
  (rate: number) =>
  (ctx: ScenarioContext): Promise<RunResult> =>
    withPipe(
      () => HeraldNotify.open(ctx),
      (p) => latencyAt(ctx, p, rate),
    );
