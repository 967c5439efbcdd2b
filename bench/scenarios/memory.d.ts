import type { RunResult, ScenarioContext } from '../types.ts';
export declare function memoryPerEvent(ctx: ScenarioContext): Promise<RunResult>;
