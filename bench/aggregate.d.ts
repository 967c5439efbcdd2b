/**
 * From runs to figures: each scenario's medians with min–max, Herald's ratios
 * to the raw loop and to the peers computed run by run (run r of one scenario
 * against run r of the other: the same pass over a drifting machine), and the
 * issue's targets checked against those.
 */
import type { ScenarioDef } from './catalogue.ts';
import { type Spread } from './stats.ts';
import { type Kind, type Library, type RunResult } from './types.ts';
export type RunOutcome = RunResult | {
    readonly error: string;
};
export interface ScenarioRecord {
    readonly id: string;
    readonly title: string;
    readonly library: Library;
    readonly kind: Kind;
    /** One entry per run, in run order. */
    readonly runs: RunOutcome[];
    /** Median [min–max] over the successful runs, by metric. */
    readonly summary: Record<string, Spread>;
}
export interface Comparison {
    readonly id: string;
    readonly title: string;
    /** How to read the value, e.g. "× raw (higher is better)". */
    readonly unit: string;
    readonly value: Spread;
    /** Per-run values. */
    readonly runs: number[];
}
export interface TargetCheck {
    readonly title: string;
    readonly limit: string;
    readonly measured: number;
    readonly unit: string;
    readonly pass: boolean;
}
export declare function isResult(r: RunOutcome | undefined): r is RunResult;
/** The metrics of one run, flat: rate, CPU, Redis, commands, latency and memory figures. */
export declare function metricsOf(r: RunResult): Record<string, number>;
export declare function summarize(def: ScenarioDef, runs: RunOutcome[]): ScenarioRecord;
export declare function compare(records: readonly ScenarioRecord[]): Comparison[];
/** The targets, where the run measured what they need. */
export declare function checkTargets(records: readonly ScenarioRecord[], comparisons: readonly Comparison[]): TargetCheck[];
