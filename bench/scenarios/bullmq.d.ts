import type { RunResult, ScenarioContext } from '../types.ts';
/** addBulk only (no worker). */
export declare const bullAdd: (ctx: ScenarioContext) => Promise<RunResult>;
/** Processing only: the worker is paused while the queue is filled, then resumed. */
export declare const bullProcess: (ctx: ScenarioContext) => Promise<RunResult>;
/** add → worker → completed, the worker running while jobs are added. */
export declare const bullEndToEnd: (ctx: ScenarioContext) => Promise<RunResult>;
