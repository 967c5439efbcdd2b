/** Shapes shared by the benchmark's runner (parent process) and its scenarios (child processes). */
import type { RedisProbe, SectionCost } from './probe.ts';
import type { Percentiles } from './stats.ts';
export type Library = 'raw' | 'herald' | 'bullmq' | 'redis-smq';
export type Kind = 'throughput' | 'latency' | 'memory';
/** What a scenario gets from the child process that runs it. */
export interface ScenarioContext {
    readonly url: string;
    /** Every key a scenario writes contains this token (the child deletes them afterwards). */
    readonly token: string;
    /** A key prefix built from the token, for libraries that take one. */
    readonly keyPrefix: string;
    /** How many events the measured section handles (throughput scenarios). */
    readonly events: number;
    /** Small counts and short durations: shape, not speed. */
    readonly quick: boolean;
    readonly probe: RedisProbe;
    /** A progress note shown by the parent (long scenarios). */
    progress(message: string): void;
}
/** Latency of one scenario run, in milliseconds, measured from the publish call to the handler. */
export interface LatencyResult extends Percentiles {
    /** Rate the open-loop sender was asked for, events/s. */
    readonly offeredRate: number;
    /** Rate it managed to send at. */
    readonly achievedRate: number;
    /** p99 measured from the moment the event was due (includes the sender's own scheduling lag). */
    readonly p99FromSchedule: number;
}
export interface MemoryResult {
    /** Bytes per stored event, MEMORY USAGE / XLEN, by payload size. */
    readonly heraldBytesPerEvent: number;
    readonly rawBytesPerEvent: number;
    readonly heraldBytesPerEvent1k: number;
    readonly rawBytesPerEvent1k: number;
}
/** One run of one scenario. */
export interface RunResult extends SectionCost {
    /** Events the rate counts (published events; a fan-out delivers each several times). */
    readonly events: number;
    /** events / seconds. */
    readonly rate: number;
    readonly latency?: LatencyResult;
    readonly memory?: MemoryResult;
    /** Scenario-specific figures (deliveries, settings). */
    readonly detail?: Readonly<Record<string, number | string>>;
}
export type ScenarioFn = (ctx: ScenarioContext) => Promise<RunResult>;
/** A run's figures derived from its cost: per-event CPU and Redis load. */
export declare function costFigures(r: RunResult): {
    nodeCpuUsPerEvent: number;
    redisCpuPct: number;
    commandsPerEvent: number;
};
