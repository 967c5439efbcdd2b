/**
 * The benchmark's event payload: a small order-like JSON object, padded to a
 * target serialized size (about 100 bytes by default, or 1 KB). `t` carries the
 * time the event was meant to be sent (performance.now() of the sending
 * process), so a handler in the same process can compute its latency.
 */
const paddingBySize = new Map();
function padding(size) {
    let pad = paddingBySize.get(size);
    if (pad === undefined) {
        // Measure a representative payload without padding, then fill up to `size` bytes.
        const base = JSON.stringify(build(123456, 123456.789, ''));
        pad = 'x'.repeat(Math.max(0, size - base.length));
        paddingBySize.set(size, pad);
    }
    return pad;
}
function build(seq, t, note) {
    return {
        orderId: `o-${seq}`,
        customer: `c-${seq % 997}`,
        amount: (seq % 10_000) / 100,
        currency: 'EUR',
        seq,
        t,
        note,
    };
}
/** A payload of about `size` bytes once serialized as JSON. */
export function makePayload(seq, size, t = 0) {
    return build(seq, t, padding(size));
}
/** The default payload size, in bytes of JSON. */
export const SMALL = 100;
/** The "1 KB payload" variant. */
export const LARGE = 1024;
/** Reads `t` back from a payload that may have gone through JSON. */
export function sentAt(data) {
    return typeof data === 'object' && data !== null ? Number(data.t) : NaN;
}
//# sourceMappingURL=payload.js.map