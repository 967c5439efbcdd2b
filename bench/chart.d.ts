import type { BenchResults } from './runner.ts';
export declare function renderChart(results: BenchResults): string;
