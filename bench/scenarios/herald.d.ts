import { RedisBackend, type Topic } from '../../src/index.ts';
import { type Pipe } from '../drive.ts';
import { type OrderPayload } from '../payload.ts';
import type { RunResult, ScenarioContext } from '../types.ts';
export interface HeraldSetup {
    /** Subscriptions in one group (several consumers sharing the work). Default 1. */
    readonly consumers?: number;
    /** Groups, each receiving every event (fan-out). Default 1. */
    readonly groups?: number;
    /** Payload size in bytes of JSON. Default 100. */
    readonly size?: number;
    /** Validate with a zod schema at publish and at consume. */
    readonly schema?: boolean;
}
/** Consumer settings used throughout: batchSize as the raw loop's COUNT. */
export declare const CONSUMER: {
    readonly batchSize: 500;
    readonly concurrency: 100;
};
export declare class HeraldPipe implements Pipe {
    readonly backend: RedisBackend;
    readonly topic: Topic<OrderPayload>;
    private readonly size;
    onDelivery: ((data: OrderPayload) => void) | undefined;
    private count;
    private readonly subs;
    private readonly groups;
    private constructor();
    static open(ctx: ScenarioContext, setup?: HeraldSetup): Promise<HeraldPipe>;
    publishBatch(from: number, n: number): Promise<void>;
    publishOne(seq: number, t: number): Promise<unknown>;
    delivered(): number;
    settled(): Promise<boolean>;
    close(): Promise<void>;
}
/** publish() per event, a batch of calls issued in the same tick (they share one round trip). */
export declare const heraldPublishSingle: (ctx: ScenarioContext) => Promise<RunResult>;
export declare const heraldPublishBatch: (ctx: ScenarioContext) => Promise<RunResult>;
export declare const heraldEndToEnd: (setup: HeraldSetup) => (ctx: ScenarioContext) => Promise<RunResult>;
export declare const heraldLatency: (rate: number, setup?: HeraldSetup) => (ctx: ScenarioContext) => Promise<RunResult>;
export declare const heraldLatencyMax: (ctx: ScenarioContext) => Promise<RunResult>;
