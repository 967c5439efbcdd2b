/**
 * BullMQ doing the equivalent work: jobs added with addBulk (500 per call, one
 * call in flight), processed by a Worker at concurrency 50. Completed and
 * failed jobs are removed (removeOnComplete/removeOnFail), BullMQ's cheapest
 * setting. BullMQ uses ioredis, its default client.
 */
import { Queue, Worker } from 'bullmq';
import { publishAll, quiesce, runResult, until, warmUpEvents } from '../drive.ts';
import { makePayload, SMALL } from '../payload.ts';
import type { RunResult, ScenarioContext } from '../types.ts';
import { BATCH } from './raw.ts';

const CONCURRENCY = 50;
const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: true } as const;

function connectionOf(url: string): {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  maxRetriesPerRequest: null;
} {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    maxRetriesPerRequest: null,
  };
}

interface Bull {
  queue: Queue;
  add: (from: number, n: number) => Promise<void>;
  /** A running worker. */
  worker: () => Promise<{ worker: Worker; completed: () => number }>;
  close: () => Promise<void>;
}

async function open(ctx: ScenarioContext): Promise<Bull> {
  const connection = connectionOf(ctx.url);
  const prefix = ctx.keyPrefix;
  const queue = new Queue('orders', { connection, prefix });
  await queue.waitUntilReady();
  const workers: Worker[] = [];
  return {
    queue,
    add: async (from, n) => {
      const jobs = [];
      for (let i = 0; i < n; i++)
        jobs.push({ name: 'order', data: makePayload(from + i, SMALL), opts: JOB_OPTIONS });
      await queue.addBulk(jobs);
    },
    worker: async () => {
      let completed = 0;
      const worker = new Worker(
        'orders',
        // The handler reads the payload, like the other libraries' handlers.
        (job) => {
          void (job.data as { seq: number }).seq;
          return Promise.resolve();
        },
        { connection, prefix, concurrency: CONCURRENCY, autorun: false },
      );
      worker.on('completed', () => void completed++);
      worker.on('error', () => {});
      await worker.waitUntilReady();
      workers.push(worker);
      void worker.run();
      return { worker, completed: () => completed };
    },
    close: async () => {
      await Promise.all(workers.map((w) => w.close()));
      await queue.close();
    },
  };
}

async function withBull(
  ctx: ScenarioContext,
  run: (b: Bull) => Promise<RunResult>,
): Promise<RunResult> {
  const b = await open(ctx);
  try {
    return await run(b);
  } finally {
    await b.close();
  }
}

/** addBulk only (no worker). */
export const bullAdd = (ctx: ScenarioContext): Promise<RunResult> =>
  withBull(ctx, async (b) => {
    await publishAll(b.add, 0, Math.max(BATCH, Math.floor(ctx.events / 10)), BATCH);
    const { cost } = await ctx.probe.measure(() => publishAll(b.add, 1e9, ctx.events, BATCH));
    return runResult(ctx.events, cost, { detail: { batch: BATCH } });
  });

/** A worker warmed up with jobs, then idle. */
async function warmWorker(
  ctx: ScenarioContext,
  b: Bull,
): Promise<{ worker: Worker; completed: () => number }> {
  const w = await b.worker();
  const warm = warmUpEvents(ctx, BATCH);
  await publishAll(b.add, 0, warm, BATCH);
  await until(() => w.completed() >= warm, 120_000, 'warm-up jobs completed');
  await quiesce(ctx.quick ? 500 : 15_000);
  return w;
}

/** Processing only: the worker is paused while the queue is filled, then resumed. */
export const bullProcess = (ctx: ScenarioContext): Promise<RunResult> =>
  withBull(ctx, async (b) => {
    const w = await warmWorker(ctx, b);
    const target = w.completed() + ctx.events;
    await w.worker.pause();
    await publishAll(b.add, 1e9, ctx.events, BATCH);
    const { cost } = await ctx.probe.measure(async () => {
      void w.worker.resume();
      await until(() => w.completed() >= target, 600_000, `${ctx.events} jobs completed`);
    });
    return runResult(ctx.events, cost, { detail: { concurrency: CONCURRENCY } });
  });

/** add → worker → completed, the worker running while jobs are added. */
export const bullEndToEnd = (ctx: ScenarioContext): Promise<RunResult> =>
  withBull(ctx, async (b) => {
    const w = await warmWorker(ctx, b);
    const target = w.completed() + ctx.events;
    const { cost } = await ctx.probe.measure(async () => {
      await publishAll(b.add, 1e9, ctx.events, BATCH);
      await until(() => w.completed() >= target, 600_000, `${ctx.events} jobs completed`);
    });
    return runResult(ctx.events, cost, { detail: { concurrency: CONCURRENCY, batch: BATCH } });
  });
