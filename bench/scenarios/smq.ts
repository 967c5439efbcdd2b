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
  Namespace,
  Producer,
  ProducibleMessage,
  Queue,
  QueueMessages,
} from 'redis-smq';
import { ERedisConfigClient } from 'redis-smq-common';
import { publishAll, quiesce, runResult, until, warmUpEvents } from '../drive.ts';
import { makePayload, SMALL } from '../payload.ts';
import type { RunResult, ScenarioContext } from '../types.ts';
import { BATCH } from './raw.ts';

const CONSUMERS = 4;
const QUEUE = 'orders';

interface Consumers {
  /** Messages acknowledged so far. */
  handled(): number;
  /** From now on the handlers keep their message (acknowledge nothing) until `release`. */
  hold(): void;
  release(): void;
}

interface Smq {
  produce: (from: number, n: number) => Promise<void>;
  startConsumers: () => Promise<Consumers>;
  close: () => Promise<void>;
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

/**
 * redis-smq runs part of each consumer in worker threads, which inherit this
 * process's execArgv. Under `--import tsx` every worker would load its plain-JS
 * modules through the TypeScript loader: seconds of CPU that are the
 * benchmark's cost, not redis-smq's. Workers need no TypeScript, so drop it.
 */
function withoutTsxForWorkers(): void {
  const args = process.execArgv;
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--import' && /tsx/.test(args[i + 1] ?? '')) i++;
    else kept.push(args[i] as string);
  }
  process.execArgv = kept;
}

async function open(ctx: ScenarioContext): Promise<Smq> {
  withoutTsxForWorkers();
  // Configuration is process-wide in redis-smq, set once per process (--quick runs
  // several scenarios in one process; they share the namespace and clean up after themselves).
  const namespace = `bench-${ctx.token}`;
  Configuration.getSetConfig({
    namespace,
    redis: { client: ERedisConfigClient.IOREDIS, options: optionsOf(ctx.url) },
    logger: { enabled: false },
  });
  const queue = new Queue();
  await promisify(queue.save.bind(queue))(
    QUEUE,
    EQueueType.FIFO_QUEUE,
    EQueueDeliveryModel.POINT_TO_POINT,
  );
  const producer = new Producer();
  await promisify(producer.run.bind(producer))();
  const produce = promisify(producer.produce.bind(producer));
  const consumers: Consumer[] = [];
  return {
    produce: async (from, n) => {
      const all: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        all.push(
          produce(new ProducibleMessage().setQueue(QUEUE).setBody(makePayload(from + i, SMALL))),
        );
      }
      await Promise.all(all);
    },
    startConsumers: async () => {
      let handled = 0;
      let held: (() => void)[] | undefined;
      for (let i = 0; i < CONSUMERS; i++) {
        const c = new Consumer();
        await promisify(c.consume.bind(c))(QUEUE, (msg, cb) => {
          void (msg.body as { seq: number }).seq;
          const ack = (): void => {
            handled++;
            cb();
          };
          if (held) held.push(ack);
          else ack();
        });
        consumers.push(c);
      }
      await Promise.all(consumers.map((c) => promisify(c.run.bind(c))()));
      return {
        handled: () => handled,
        hold: () => (held = []),
        release: () => {
          const acks = held ?? [];
          held = undefined;
          for (const ack of acks) ack();
        },
      };
    },
    close: async () => {
      await Promise.all(consumers.map((c) => promisify(c.shutdown.bind(c))()));
      await promisify(producer.shutdown.bind(producer))();
      // Through redis-smq's API: its global registries (queues, namespaces, messages) must stay consistent.
      // One purge can miss messages (it scans a set while deleting from it): purge until the count is 0.
      const messages = new QueueMessages();
      const count = (): Promise<number> =>
        new Promise((resolve, reject) =>
          queue.getProperties(QUEUE, (err, p) =>
            err ? reject(err) : resolve(p?.messagesCount ?? 0),
          ),
        );
      for (let i = 0; i < 20 && (await count()) > 0; i++) {
        await promisify(messages.purge.bind(messages))(QUEUE);
      }
      await promisify(messages.shutdown.bind(messages))();
      await promisify(queue.shutdown)();
      const ns = new Namespace();
      await promisify(ns.delete.bind(ns))(Configuration.getSetConfig().namespace);
      await promisify(ns.shutdown)();
    },
  };
}

async function withSmq(
  ctx: ScenarioContext,
  run: (s: Smq) => Promise<RunResult>,
): Promise<RunResult> {
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

/**
 * Running consumers with their background workers started (warm-up, then
 * quiet): redis-smq loads its modules again in each worker thread, a start-up
 * cost a long-running service does not pay per message.
 */
async function warmConsumers(ctx: ScenarioContext, s: Smq): Promise<Consumers> {
  const c = await s.startConsumers();
  const warm = warmUpEvents(ctx, BATCH);
  await publishAll(s.produce, 0, warm, BATCH);
  await until(() => c.handled() >= warm, 120_000, 'warm-up messages handled');
  await quiesce(ctx.quick ? 500 : 15_000);
  return c;
}

/** Consuming only: the consumers hold their first message while the queue is filled, then go. */
export const smqConsume = (ctx: ScenarioContext): Promise<RunResult> =>
  withSmq(ctx, async (s) => {
    const c = await warmConsumers(ctx, s);
    const target = c.handled() + ctx.events;
    c.hold();
    await publishAll(s.produce, 1e9, ctx.events, BATCH);
    const { cost } = await ctx.probe.measure(async () => {
      c.release();
      await until(() => c.handled() >= target, 600_000, `${ctx.events} messages handled`);
    });
    return runResult(ctx.events, cost, { detail: { consumers: CONSUMERS } });
  });

export const smqEndToEnd = (ctx: ScenarioContext): Promise<RunResult> =>
  withSmq(ctx, async (s) => {
    const c = await warmConsumers(ctx, s);
    const target = c.handled() + ctx.events;
    const { cost } = await ctx.probe.measure(async () => {
      await publishAll(s.produce, 1e9, ctx.events, BATCH);
      await until(() => c.handled() >= target, 600_000, `${ctx.events} messages handled`);
    });
    return runResult(ctx.events, cost, { detail: { consumers: CONSUMERS, inFlight: BATCH } });
  });
