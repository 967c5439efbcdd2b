/** Small statistics helpers: order statistics over samples, and median with range over runs. */
export interface Spread {
    readonly median: number;
    readonly min: number;
    readonly max: number;
}
/** Median, min and max of the values (NaN-free input expected); undefined for an empty list. */
export declare function spread(values: readonly number[]): Spread | undefined;
/** The q-quantile (0..1) of already sorted samples, nearest-rank. */
export declare function quantile(sorted: ArrayLike<number>, q: number): number;
export interface Percentiles {
    readonly p50: number;
    readonly p90: number;
    readonly p99: number;
    readonly max: number;
    readonly samples: number;
}
/** Percentiles of a list of samples (sorted in place). */
export declare function percentiles(samples: Float64Array): Percentiles;
