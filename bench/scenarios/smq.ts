/**
 * redis-smq doing the equivalent work: a FIFO point-to-point queue, a Producer
 * (500 produce calls in flight, like the other libraries' batches) and 4
 * Consumers in this process, each acknowledging through its callback.
 * redis-smq runs on ioredis here (it needs node-redis 4 otherwise).
 */
import { promisify } from 'node:util';
import {
  Configuration,
  Consumer,
  EQueueDeliveryModel,
  EQueueType,
  Producer,
  ProducibleMessage,
  Queue,
} from 'redis-smq';
import { ERedisConfigClient } from 'redis-smq-common';
import { publishAll, runResult, until } from '../drive.ts';
import { makePayload, SMALL } from '../payload.ts';
import type { RunResult, ScenarioContext } from '../types.ts';
import { BATCH } from './raw.ts';

const CONSUMERS = 4;
const QUEUE = 'orders';

interface Smq {
  produce(from: number, n: number): Promise<void>;
  startConsumers(): Promise<{ handled: () => number; firstAt: () => number; lastAt: () => number }>;
  close(): Promise<void>;
}

function optionsOf(url: string): Record<string, unknown> {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
  };
}

async function open(ctx: ScenarioContext): Promise<Smq> {
  // Configuration is process-wide in redis-smq: this child process runs one scenario.
  Configuration.getSetConfig({
    namespace: `bench-${ctx.token}`,
    redis: { client: ERedisConfigClient.IOREDIS, options: optionsOf(ctx.url) },
    logger: { enabled: false },
  });
  const queue = new Queue();
  await promisify(queue.save.bind(queue))(QUEUE, EQueueType.FIFO_QUEUE, EQueueDeliveryModel.POINT_TO_POINT);
  const producer = new Producer();
  await promisify(producer.run.bind(producer))();
  const produce = promisify(producer.produce.bind(producer));
  const consumers: Consumer[] = [];
  return {
    produce: async (from, n) => {
      const all: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        all.push(produce(new ProducibleMessage().setQueue(QUEUE).setBody(makePayload(from + i, SMALL))));
      }
      await Promise.all(all);
    },
    startConsumers: async () => {
      let handled = 0;
      let firstAt = NaN;
      let lastAt = NaN;
      for (let i = 0; i < CONSUMERS; i++) {
        const c = new Consumer();
        await promisify(c.consume.bind(c))(QUEUE, (msg, cb) => {
          void (msg.body as { seq: number }).seq;
          lastAt = performance.now();
          if (handled++ === 0) firstAt = lastAt;
          cb();
        });
        consumers.push(c);
      }
      await Promise.all(consumers.map((c) => promisify(c.run.bind(c))()));
      return { handled: () => handled, firstAt: () => firstAt, lastAt: () => lastAt };
    },
    close: async () => {
      await Promise.all(consumers.map((c) => promisify(c.shutdown.bind(c))()));
      await promisify(producer.shutdown.bind(producer))();
      await promisify(queue.delete.bind(queue))(QUEUE).catch(() => {});
      await promisify(queue.shutdown)();
    },
  };
}

async function withSmq(ctx: ScenarioContext, run: (s: Smq) => Promise<RunResult>): Promise<RunResult> {
  const s = await open(ctx);
  try {
    return await run(s);
  } finally {
    await s.close();
  }
}

export const smqProduce = (ctx: ScenarioContext): Promise<RunResult> =>
  withSmq(ctx, async (s) => {
    await publishAll(s.produce, 0, Math.max(BATCH, Math.floor(ctx.events / 10)), BATCH);
    const { cost } = await ctx.probe.measure(() => publishAll(s.produce, 1e9, ctx.events, BATCH));
    return runResult(ctx.events, cost, { detail: { inFlight: BATCH } });
  });

/** Consuming only: the queue is filled first; rate from the first to the last handled message. */
export const smqConsume = (ctx: ScenarioContext): Promise<RunResult> =>
  withSmq(ctx, async (s) => {
    const total = ctx.events + 1;
    await publishAll(s.produce, 0, total, BATCH);
    let c: Awaited<ReturnType<Smq['startConsumers']>> | undefined;
    const { cost } = await ctx.probe.measure(async () => {
      c = await s.startConsumers();
      const h = c;
      await until(() => h.handled() >= total, 600_000, `${total} messages handled`);
    });
    const h = c as NonNullable<typeof c>;
    return runResult(ctx.events, cost, {
      rate: ctx.events / ((h.lastAt() - h.firstAt()) / 1000),
      detail: { consumers: CONSUMERS, rateWindow: 'first to last handled' },
    });
  });

export const smqEndToEnd = (ctx: ScenarioContext): Promise<RunResult> =>
  withSmq(ctx, async (s) => {
    const c = await s.startConsumers();
    const warm = Math.max(BATCH, Math.floor(ctx.events / 10));
    await publishAll(s.produce, 0, warm, BATCH);
    await until(() => c.handled() >= warm, 120_000, 'warm-up messages handled');
    const target = warm + ctx.events;
    const { cost } = await ctx.probe.measure(async () => {
      await publishAll(s.produce, warm, ctx.events, BATCH);
      await until(() => c.handled() >= target, 600_000, `${ctx.events} messages handled`);
    });
    return runResult(ctx.events, cost, { detail: { consumers: CONSUMERS, inFlight: BATCH } });
  });
