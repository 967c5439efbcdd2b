/**
 * The benchmark's event payload: a small order-like JSON object, padded to a
 * target serialized size (about 100 bytes by default, or 1 KB). `t` carries the
 * time the event was meant to be sent (performance.now() of the sending
 * process), so a handler in the same process can compute its latency.
 */
export interface OrderPayload {
    readonly orderId: string;
    readonly customer: string;
    readonly amount: number;
    readonly currency: string;
    readonly seq: number;
    readonly t: number;
    readonly note: string;
}
/** A payload of about `size` bytes once serialized as JSON. */
export declare function makePayload(seq: number, size: number, t?: number): OrderPayload;
/** The default payload size, in bytes of JSON. */
export declare const SMALL = 100;
/** The "1 KB payload" variant. */
export declare const LARGE = 1024;
/** Reads `t` back from a payload that may have gone through JSON. */
export declare function sentAt(data: unknown): number;
