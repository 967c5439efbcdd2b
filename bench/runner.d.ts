import { type Comparison, type ScenarioRecord, type TargetCheck } from './aggregate.ts';
import { type MachineInfo, type RedisInfo } from './machine.ts';
export interface BenchOptions {
    /** Redis to measure against; default REDIS_URL, else a private redis-server. */
    readonly url?: string | undefined;
    /** Small counts, one run: checks that everything works, measures nothing worth quoting. */
    readonly quick?: boolean;
    readonly runs?: number;
    /** Events per throughput run (peers run a fraction). Default 50 000; --quick 2 000. */
    readonly events?: number;
    readonly only?: readonly string[] | undefined;
    /** Directory for latest.json / latest.md / latest.svg. Default bench/results. */
    readonly outDir?: string;
    /** Write V8 CPU profiles of the scenario processes here (node --cpu-prof). */
    readonly profileDir?: string | undefined;
    /** Progress lines. Default: stderr. */
    readonly log?: (line: string) => void;
}
export interface BenchResults {
    readonly version: 1;
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly options: {
        readonly quick: boolean;
        readonly runs: number;
        readonly events: number;
        readonly only: readonly string[] | null;
    };
    readonly machine: MachineInfo;
    readonly redis: RedisInfo;
    readonly scenarios: ScenarioRecord[];
    readonly comparisons: Comparison[];
    readonly targets: TargetCheck[];
}
export declare const DEFAULT_OUT_DIR: string;
/** Runs the benchmark and writes latest.json, latest.md and latest.svg to the output directory. */
export declare function runBenchmark(options?: BenchOptions): Promise<{
    results: BenchResults;
    markdown: string;
}>;
