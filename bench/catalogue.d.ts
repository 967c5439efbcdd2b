/**
 * Every benchmark scenario, in the order a run goes through them. Scenarios
 * load their library lazily, in the child process that runs them.
 */
import type { Kind, Library, ScenarioFn } from './types.ts';
export interface ScenarioDef {
    readonly id: string;
    readonly title: string;
    readonly library: Library;
    readonly kind: Kind;
    /** Events per run as a fraction of --events: slow peers get fewer so a run stays short. */
    readonly eventsFactor: number;
    readonly load: () => Promise<ScenarioFn>;
}
export declare const SCENARIOS: readonly ScenarioDef[];
/** Scenarios named by --only: ids, comma-separated, each exact or a prefix ending in `*`. */
export declare function selectScenarios(only: readonly string[] | undefined): ScenarioDef[];
export declare function scenarioById(id: string): ScenarioDef;
