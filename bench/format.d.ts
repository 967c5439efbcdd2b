/** Number formatting shared by the Markdown report and the chart. */
import type { Spread } from './stats.ts';
/** 52341 → "52,341"; small values keep `digits` decimals. */
export declare function num(v: number, digits?: number): string;
/** Sensible decimals for a figure of this size. */
export declare function auto(v: number): string;
/** "median (min–max)", or just the value when there was one run. */
export declare function spreadText(s: Spread | undefined, fmt?: (v: number) => string): string;
