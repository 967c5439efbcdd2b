/**
 * Herald through its public API: RedisBackend.publish / publishBatch and
 * subscribe, driven by the same drivers as the raw loop. Consumers read 500 at
 * a time like the raw loop (batchSize 500).
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import {
  defineTopic,
  RedisBackend,
  partitionKeys,
  type EnvelopeLayout,
  type Subscription,
  type Topic,
} from '../../src/index.ts';
import { endToEnd, highestSustained, latencyAt, publishOnly, type Pipe } from '../drive.ts';
import { makePayload, SMALL, type OrderPayload } from '../payload.ts';
import type { RunResult, ScenarioContext } from '../types.ts';
import { BATCH } from './raw.ts';

export interface HeraldSetup {
  /** Subscriptions in one group (several consumers sharing the work). Default 1. */
  readonly consumers?: number;
  /** Groups, each receiving every event (fan-out). Default 1. */
  readonly groups?: number;
  /** Payload size in bytes of JSON. Default 100. */
  readonly size?: number;
  /** Validate with a zod schema at publish and at consume. */
  readonly schema?: boolean;
  /** The envelope layout the topic writes. Default the topic's default ('compact'). */
  readonly envelopeLayout?: EnvelopeLayout;
}

/** Consumer settings used throughout: batchSize as the raw loop's COUNT. */
export const CONSUMER = { batchSize: 500, concurrency: 100 } as const;

/** The zod schema of the payload, loaded only when a scenario asks for it (zod is a dev dependency). */
async function orderSchema(): Promise<StandardSchemaV1<unknown, OrderPayload>> {
  const { z } = await import('zod');
  return z.object({
    orderId: z.string(),
    customer: z.string(),
    amount: z.number().nonnegative(),
    currency: z.string().length(3),
    seq: z.number().int(),
    t: z.number(),
    note: z.string(),
  });
}

export class HeraldPipe implements Pipe {
  onDelivery: ((data: OrderPayload) => void) | undefined;
  private count = 0;
  private readonly subs: Subscription[] = [];
  private readonly groups: string[] = [];

  private constructor(
    readonly backend: RedisBackend,
    readonly topic: Topic<OrderPayload>,
    private readonly size: number,
  ) {}

  static async open(ctx: ScenarioContext, setup: HeraldSetup = {}): Promise<HeraldPipe> {
    const backend = await RedisBackend.connect({
      url: ctx.url,
      prefix: ctx.keyPrefix,
      source: 'bench',
    });
    const layout =
      setup.envelopeLayout === undefined ? {} : { envelopeLayout: setup.envelopeLayout };
    const topic: Topic<OrderPayload> = setup.schema
      ? defineTopic({ name: 'orders', schema: await orderSchema(), ...layout })
      : defineTopic<OrderPayload>({ name: 'orders', ...layout });
    const pipe = new HeraldPipe(backend, topic, setup.size ?? SMALL);
    for (let g = 0; g < (setup.groups ?? 1); g++) {
      const group = `g${g}`;
      pipe.groups.push(group);
      for (let c = 0; c < (setup.consumers ?? 1); c++) {
        pipe.subs.push(
          backend.subscribe(
            topic,
            { group, consumer: `c${c}`, startFrom: 'new', ...CONSUMER },
            (event) => {
              pipe.count++;
              pipe.onDelivery?.(event.data);
            },
          ),
        );
      }
    }
    await Promise.all(pipe.subs.map((s) => s.ready));
    return pipe;
  }

  publishBatch(from: number, n: number): Promise<void> {
    const events = [];
    for (let i = 0; i < n; i++) events.push({ data: makePayload(from + i, this.size) });
    return this.backend.publishBatch(this.topic, events).then(() => undefined);
  }

  publishOne(seq: number, t: number): Promise<unknown> {
    return this.backend.publish(this.topic, { data: makePayload(seq, this.size, t) });
  }

  delivered(): number {
    return this.count;
  }

  async settled(): Promise<boolean> {
    const stream = partitionKeys(this.backend.prefix, this.topic, 0).stream;
    const replies = await this.backend.conn.pipeline(
      this.groups.map((g) => ['XPENDING', stream, g]),
    );
    return replies.every((r) => Array.isArray(r) && Number(r[0]) === 0);
  }

  async close(): Promise<void> {
    await this.backend.close({ deadlineMs: 1000 });
  }
}

async function withPipe(
  ctx: ScenarioContext,
  setup: HeraldSetup,
  run: (pipe: HeraldPipe) => Promise<RunResult>,
): Promise<RunResult> {
  const pipe = await HeraldPipe.open(ctx, setup);
  try {
    return await run(pipe);
  } finally {
    await pipe.close();
  }
}

/** publish() per event, a batch of calls issued in the same tick (they share one round trip). */
export const heraldPublishSingle = (ctx: ScenarioContext): Promise<RunResult> =>
  withPipe(ctx, { groups: 0 }, (pipe) =>
    publishOnly(
      ctx,
      (from, n) => {
        const all: Promise<unknown>[] = [];
        for (let i = 0; i < n; i++) all.push(pipe.publishOne(from + i, 0));
        return Promise.all(all).then(() => undefined);
      },
      BATCH,
    ),
  );

export const heraldPublishBatch = (ctx: ScenarioContext): Promise<RunResult> =>
  withPipe(ctx, { groups: 0 }, (pipe) =>
    publishOnly(ctx, (f, n) => pipe.publishBatch(f, n), BATCH),
  );

export const heraldEndToEnd =
  (setup: HeraldSetup) =>
  (ctx: ScenarioContext): Promise<RunResult> =>
    withPipe(ctx, setup, (pipe) =>
      endToEnd(ctx, pipe, { batch: BATCH, fanout: setup.groups ?? 1 }),
    );

export const heraldLatency =
  (rate: number, setup: HeraldSetup = {}) =>
  (ctx: ScenarioContext): Promise<RunResult> =>
    withPipe(ctx, setup, (pipe) => latencyAt(ctx, pipe, rate, setup.groups ?? 1));

export const heraldLatencyMax = (ctx: ScenarioContext): Promise<RunResult> =>
  withPipe(ctx, {}, (pipe) => highestSustained(ctx, pipe, ctx.quick ? 2000 : 2500));
