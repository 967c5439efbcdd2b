/** 52341 → "52,341"; small values keep `digits` decimals. */
export function num(v, digits = 0) {
    if (!Number.isFinite(v))
        return '–';
    return v.toLocaleString('en-US', {
        minimumFractionDigits: digits,
        maximumFractionDigits: digits,
    });
}
/** Sensible decimals for a figure of this size. */
export function auto(v) {
    const a = Math.abs(v);
    return num(v, a >= 100 ? 0 : a >= 10 ? 1 : 2);
}
/** "median (min–max)", or just the value when there was one run. */
export function spreadText(s, fmt = auto) {
    if (!s)
        return '–';
    if (s.min === s.max)
        return fmt(s.median);
    return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}
//# sourceMappingURL=format.js.map