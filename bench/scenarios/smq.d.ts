import type { RunResult, ScenarioContext } from '../types.ts';
export declare const smqProduce: (ctx: ScenarioContext) => Promise<RunResult>;
/** Consuming only: the consumers hold their first message while the queue is filled, then go. */
export declare const smqConsume: (ctx: ScenarioContext) => Promise<RunResult>;
export declare const smqEndToEnd: (ctx: ScenarioContext) => Promise<RunResult>;
