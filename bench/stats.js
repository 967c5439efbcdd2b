/** Small statistics helpers: order statistics over samples, and median with range over runs. */
/** Median, min and max of the values (NaN-free input expected); undefined for an empty list. */
export function spread(values) {
    if (values.length === 0)
        return undefined;
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    const median = sorted.length % 2 === 1
        ? sorted[mid]
        : (sorted[mid - 1] + sorted[mid]) / 2;
    return { median, min: sorted[0], max: sorted[sorted.length - 1] };
}
/** The q-quantile (0..1) of already sorted samples, nearest-rank. */
export function quantile(sorted, q) {
    if (sorted.length === 0)
        return NaN;
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
    return sorted[rank];
}
/** Percentiles of a list of samples (sorted in place). */
export function percentiles(samples) {
    samples.sort();
    return {
        p50: quantile(samples, 0.5),
        p90: quantile(samples, 0.9),
        p99: quantile(samples, 0.99),
        max: samples.length > 0 ? samples[samples.length - 1] : NaN,
        samples: samples.length,
    };
}
//# sourceMappingURL=stats.js.map