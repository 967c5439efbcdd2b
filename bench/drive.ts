/**
 * Library-independent drivers: closed-loop publishing, end-to-end runs and
 * open-loop latency runs over a `Pipe` (something that publishes events and
 * counts their deliveries). The raw loop and Herald both implement Pipe, so
 * both are driven by exactly the same code.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SectionCost } from './probe.ts';
import { percentiles } from './stats.ts';
import type { LatencyResult, RunResult, ScenarioContext } from './types.ts';
import type { OrderPayload } from './payload.ts';

export interface Pipe {
  /** Publishes events [from, from + n) in one batch; resolves once all are stored. */
  publishBatch(from: number, n: number): Promise<void>;
  /** Publishes one event stamped with send time `t` (performance.now()). */
  publishOne(seq: number, t: number): Promise<unknown>;
  /** Handler invocations so far (all groups). */
  delivered(): number;
  /** Set by a latency driver: called by the handler with each delivered payload. */
  onDelivery: ((data: OrderPayload) => void) | undefined;
  /** True once no delivered event is still waiting for its acknowledgement in Redis. */
  settled(): Promise<boolean>;
  close(): Promise<void>;
}

/** Polls `ready` every millisecond until it holds; throws after `timeoutMs`. */
export async function until(
  ready: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await ready())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(1);
  }
}

/**
 * Waits until this process is nearly idle (under 10% of a core over 250 ms),
 * so start-up work (module loading in worker threads, JIT) is not measured.
 */
export async function quiesce(maxMs = 15_000): Promise<void> {
  const deadline = performance.now() + maxMs;
  while (performance.now() < deadline) {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await sleep(250);
    const cpu = process.cpuUsage(cpu0);
    if ((cpu.user + cpu.system) / 1000 / (performance.now() - t0) < 0.1) return;
  }
}

/** Publishes `count` events from `from`, `batch` at a time, one batch in flight. */
export async function publishAll(
  publish: (from: number, n: number) => Promise<void>,
  from: number,
  count: number,
  batch: number,
): Promise<void> {
  for (let done = 0; done < count; done += batch) {
    await publish(from + done, Math.min(batch, count - done));
  }
}

export function runResult(
  events: number,
  cost: SectionCost,
  extra: Partial<RunResult> = {},
): RunResult {
  return { events, rate: cost.seconds > 0 ? events / cost.seconds : 0, ...cost, ...extra };
}

/**
 * Events run before a throughput section is measured: as many as it measures (a tenth before),
 * so the figures are the steady state a running service pays. A loop of thirty lines reaches
 * V8's optimised tiers within a few thousand events, a library with more code later, and V8's
 * compiling on background threads counts in the process's CPU. Every library and every raw loop
 * gets the same rule (docs/performance.md, "Method", also what the change did and did not show).
 */
export function warmUpEvents(ctx: ScenarioContext, batch: number): number {
  return Math.max(batch, ctx.events);
}

/** Warm-up, then publish → handler → ack for `ctx.events` events; done when all are acknowledged. */
export async function endToEnd(
  ctx: ScenarioContext,
  pipe: Pipe,
  options: { batch: number; fanout?: number },
): Promise<RunResult> {
  const fanout = options.fanout ?? 1;
  const warm = warmUpEvents(ctx, options.batch);
  const drained = async (target: number): Promise<boolean> =>
    pipe.delivered() >= target && (await pipe.settled());
  await publishAll((f, n) => pipe.publishBatch(f, n), 0, warm, options.batch);
  await until(() => drained(warm * fanout), 60_000, 'warm-up events delivered');
  const target = pipe.delivered() + ctx.events * fanout;
  const { cost } = await ctx.probe.measure(async () => {
    await publishAll((f, n) => pipe.publishBatch(f, n), warm, ctx.events, options.batch);
    await until(() => drained(target), 300_000, `${ctx.events} events delivered and acknowledged`);
  });
  return runResult(ctx.events, cost, {
    detail: { deliveries: ctx.events * fanout, batch: options.batch },
  });
}

/** Publishing only: `ctx.events` events, `batch` per round trip, after a warm-up. */
export async function publishOnly(
  ctx: ScenarioContext,
  publish: (from: number, n: number) => Promise<void>,
  batch: number,
): Promise<RunResult> {
  await publishAll(publish, 0, warmUpEvents(ctx, batch), batch);
  const { cost } = await ctx.probe.measure(() => publishAll(publish, 1e9, ctx.events, batch));
  return runResult(ctx.events, cost, { detail: { batch } });
}

export interface OpenLoopOutcome {
  sent: number;
  sendSeconds: number;
  /** Latency from the publish call, ms, in the order of delivery. */
  fromSend: Float64Array;
  /** When each delivery happened (performance.now()), in the same order. */
  deliveredAt: Float64Array;
  /** Latency from the moment the event was due, ms. */
  fromSchedule: Float64Array;
  /** Time from the last send until every event was delivered, ms. */
  drainMs: number;
}

/**
 * Open loop: sends at `rate` events/s for `durationMs` whatever happens to the
 * deliveries (a 1 ms timer; events that fell due meanwhile go out together),
 * then waits until every event was delivered `fanout` times.
 */
export async function openLoop(
  pipe: Pipe,
  rate: number,
  durationMs: number,
  fanout: number,
  drainTimeoutMs: number,
): Promise<OpenLoopOutcome> {
  const total = Math.max(1, Math.round((rate * durationMs) / 1000));
  const interval = 1000 / rate;
  const fromSend = new Float64Array(total * fanout);
  const deliveredAt = new Float64Array(total * fanout);
  const fromSchedule = new Float64Array(total * fanout);
  const due = new Float64Array(total);
  let received = 0;
  let failed = 0;
  const base = pipe.delivered();
  pipe.onDelivery = (data) => {
    const now = performance.now();
    const i = data.seq - seq0;
    if (i < 0 || i >= total || received >= fromSend.length) return;
    fromSend[received] = now - data.t;
    deliveredAt[received] = now;
    fromSchedule[received] = now - (due[i] as number);
    received++;
  };
  const seq0 = Math.floor(Math.random() * 1e9);
  const start = performance.now();
  let sent = 0;
  while (sent < total) {
    const now = performance.now();
    const dueCount = Math.min(total, Math.floor((now - start) / interval) + 1);
    while (sent < dueCount) {
      due[sent] = start + sent * interval;
      pipe.publishOne(seq0 + sent, performance.now()).catch(() => failed++);
      sent++;
    }
    if (sent < total) await sleep(1);
  }
  const lastSend = performance.now();
  const expected = base + total * fanout;
  const deadline = lastSend + drainTimeoutMs;
  while (pipe.delivered() < expected && failed === 0 && performance.now() < deadline)
    await sleep(1);
  const drainMs = performance.now() - lastSend;
  pipe.onDelivery = undefined;
  if (failed > 0) throw new Error(`${failed} publishes failed during the open-loop run`);
  return {
    sent,
    sendSeconds: (lastSend - start) / 1000,
    fromSend: fromSend.subarray(0, received),
    deliveredAt: deliveredAt.subarray(0, received),
    fromSchedule: fromSchedule.subarray(0, received),
    drainMs,
  };
}

function latencyOf(o: OpenLoopOutcome, offeredRate: number): LatencyResult {
  const fromSchedule = [...o.fromSchedule].sort((a, b) => a - b);
  return {
    ...percentiles(o.fromSend),
    offeredRate,
    achievedRate: o.sendSeconds > 0 ? o.sent / o.sendSeconds : offeredRate,
    p99FromSchedule: fromSchedule[Math.max(0, Math.ceil(0.99 * fromSchedule.length) - 1)] ?? NaN,
  };
}

/**
 * The measured window of a latency scenario. The tail of a run is made of a few stalls (a minor
 * GC, or a stall of the whole process or of Redis: bench/latency-tail.ts), each delaying the
 * events of a millisecond or a few together: at 10k events/s a 3 s window held 15-25 such clusters, too few
 * for its p99 to settle from one run to the next; 10 s holds three times as many.
 */
const LATENCY_WINDOW_MS = 10_000;

/** Latency at a fixed offered rate: 0.5 s warm-up at that rate, then the measured window. */
export async function latencyAt(
  ctx: ScenarioContext,
  pipe: Pipe,
  rate: number,
  fanout = 1,
): Promise<RunResult> {
  const windowMs = ctx.quick ? 300 : LATENCY_WINDOW_MS;
  await openLoop(pipe, rate, ctx.quick ? 100 : 500, fanout, 30_000);
  const { value: o, cost } = await ctx.probe.measure(() =>
    openLoop(pipe, rate, windowMs, fanout, 30_000),
  );
  if (o.fromSend.length < o.sent * fanout) {
    throw new Error(
      `only ${o.fromSend.length} of ${o.sent * fanout} deliveries arrived within 30 s`,
    );
  }
  return runResult(o.sent, cost, {
    latency: latencyOf(o, rate),
    detail: { deliveries: o.fromSend.length },
  });
}

/**
 * The highest rate sustained. A step offers one rate for 1.5 s (open loop); it
 * is sustained when the sender kept 95% of the offered rate, the median
 * latency stayed under 10 ms (no backlog building up) and every event was
 * delivered within 500 ms of the last send. Rates double from `startRate`
 * until a step fails, then three bisection steps narrow the answer. The tail
 * (p99) is reported, not judged: on a shared machine it is noise-prone.
 */
export async function highestSustained(
  ctx: ScenarioContext,
  pipe: Pipe,
  startRate: number,
): Promise<RunResult> {
  const stepMs = ctx.quick ? 200 : 1500;
  await openLoop(pipe, startRate, ctx.quick ? 100 : 500, 1, 30_000);
  let best: { rate: number; o: OpenLoopOutcome } | undefined;
  let failedAt: number | undefined;
  let sentInRamp = 0;
  const step = async (rate: number): Promise<boolean> => {
    const o = await openLoop(pipe, rate, stepMs, 1, 10_000);
    sentInRamp += o.sent;
    const l = latencyOf(o, rate);
    const ok =
      l.achievedRate >= 0.95 * rate &&
      l.p50 <= 10 &&
      o.drainMs <= 500 &&
      o.fromSend.length === o.sent;
    ctx.progress(
      `${rate} ev/s: p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms, sent at ${Math.round(l.achievedRate)}/s, ` +
        `drained in ${o.drainMs.toFixed(0)} ms: ${ok ? 'sustained' : 'not sustained'}`,
    );
    // --quick checks the shape only: its one short, cold step is reported whatever it shows.
    if (ok || ctx.quick) best = { rate, o };
    else failedAt = rate;
    return ok;
  };
  const { cost } = await ctx.probe.measure(async () => {
    if (ctx.quick) {
      await step(startRate);
      return;
    }
    for (let rate = startRate; rate <= 1_000_000 && (await step(rate)); rate *= 2);
    for (let i = 0; i < 3 && best && failedAt !== undefined; i++) {
      const mid = Math.round((best.rate + failedAt) / 2 / 100) * 100;
      if (mid <= best.rate || mid >= failedAt) break;
      await step(mid);
    }
  });
  if (!best) throw new Error(`not even ${startRate} events/s was sustained`);
  // CPU per event covers the whole ramp; the rate reported is the last sustained step's.
  return runResult(sentInRamp, cost, {
    rate: best.rate,
    latency: latencyOf(best.o, best.rate),
    detail: { stepMs },
  });
}
