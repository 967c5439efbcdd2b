import type { SectionCost } from './probe.ts';
import type { RunResult, ScenarioContext } from './types.ts';
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
export declare function until(ready: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void>;
/**
 * Waits until this process is nearly idle (under 10% of a core over 250 ms),
 * so start-up work (module loading in worker threads, JIT) is not measured.
 */
export declare function quiesce(maxMs?: number): Promise<void>;
/** Publishes `count` events from `from`, `batch` at a time, one batch in flight. */
export declare function publishAll(publish: (from: number, n: number) => Promise<void>, from: number, count: number, batch: number): Promise<void>;
export declare function runResult(events: number, cost: SectionCost, extra?: Partial<RunResult>): RunResult;
/** Warm-up, then publish → handler → ack for `ctx.events` events; done when all are acknowledged. */
export declare function endToEnd(ctx: ScenarioContext, pipe: Pipe, options: {
    batch: number;
    fanout?: number;
}): Promise<RunResult>;
/** Publishing only: `ctx.events` events, `batch` per round trip, after a warm-up. */
export declare function publishOnly(ctx: ScenarioContext, publish: (from: number, n: number) => Promise<void>, batch: number): Promise<RunResult>;
/** Latency at a fixed offered rate: 0.5 s warm-up at that rate, then the measured window. */
export declare function latencyAt(ctx: ScenarioContext, pipe: Pipe, rate: number, fanout?: number): Promise<RunResult>;
/**
 * The highest rate sustained. A step offers one rate for 1.5 s (open loop); it
 * is sustained when the sender kept 95% of the offered rate, the median
 * latency stayed under 10 ms (no backlog building up) and every event was
 * delivered within 500 ms of the last send. Rates double from `startRate`
 * until a step fails, then three bisection steps narrow the answer. The tail
 * (p99) is reported, not judged: on a shared machine it is noise-prone.
 */
export declare function highestSustained(ctx: ScenarioContext, pipe: Pipe, startRate: number): Promise<RunResult>;
