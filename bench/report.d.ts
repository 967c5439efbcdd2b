import type { BenchResults } from './runner.ts';
export declare function renderMarkdown(r: BenchResults): string;
