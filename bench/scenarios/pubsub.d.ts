import type { RunResult, ScenarioContext } from '../types.ts';
export declare const rawPubSubLatency: (rate: number) => (ctx: ScenarioContext) => Promise<RunResult>;
export declare const heraldNotifyLatency: (rate: number) => (ctx: ScenarioContext) => Promise<RunResult>;
