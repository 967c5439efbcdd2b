import { type Pipe } from '../drive.ts';
import { type OrderPayload } from '../payload.ts';
import type { RunResult, ScenarioContext } from '../types.ts';
declare function newClient(url: string): import("redis").RedisClientType<{}, {}, {}, 3, {}>;
/** A node-redis client, as the raw scenarios use it. */
export type RawClient = ReturnType<typeof newClient>;
type Client = RawClient;
export declare const RAW_COUNT = 500;
export declare const BATCH = 500;
/** A connected node-redis client (Nagle off, errors left to the commands). */
export declare function client(url: string): Promise<Client>;
/** XADD of one JSON payload in a `data` field: what an application on the bare client writes. */
export declare function xadd(c: Client, stream: string, payload: OrderPayload): Promise<unknown>;
export declare class RawPipe implements Pipe {
    private readonly pub;
    private readonly readers;
    private readonly stream;
    private readonly group;
    onDelivery: ((data: OrderPayload) => void) | undefined;
    private count;
    private running;
    private readonly loops;
    private constructor();
    static open(url: string, stream: string): Promise<RawPipe>;
    private readLoop;
    publishBatch(from: number, n: number): Promise<void>;
    publishOne(seq: number, t: number): Promise<unknown>;
    delivered(): number;
    settled(): Promise<boolean>;
    close(): Promise<void>;
}
export declare function rawPublish(ctx: ScenarioContext): Promise<RunResult>;
export declare const rawEndToEnd: (ctx: ScenarioContext) => Promise<RunResult>;
export declare const rawLatency: (rate: number) => (ctx: ScenarioContext) => Promise<RunResult>;
export declare const rawLatencyMax: (ctx: ScenarioContext) => Promise<RunResult>;
export {};
