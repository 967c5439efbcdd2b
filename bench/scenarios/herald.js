import { defineTopic, RedisBackend } from "../../src/index.js";
import { partitionKeys } from "../../src/redis/keys.js";
import { endToEnd, highestSustained, latencyAt, publishOnly } from "../drive.js";
import { makePayload, SMALL } from "../payload.js";
import { BATCH } from "./raw.js";
/** Consumer settings used throughout: batchSize as the raw loop's COUNT. */
export const CONSUMER = { batchSize: 500, concurrency: 100 };
/** The zod schema of the payload, loaded only when a scenario asks for it (zod is a dev dependency). */
async function orderSchema() {
    const { z } = await import('zod');
    return z.object({
        orderId: z.string(),
        customer: z.string(),
        amount: z.number().nonnegative(),
        currency: z.string().length(3),
        seq: z.number().int(),
        t: z.number(),
        note: z.string(),
    });
}
export class HeraldPipe {
    backend;
    topic;
    size;
    onDelivery;
    count = 0;
    subs = [];
    groups = [];
    constructor(backend, topic, size) {
        this.backend = backend;
        this.topic = topic;
        this.size = size;
    }
    static async open(ctx, setup = {}) {
        const backend = await RedisBackend.connect({
            url: ctx.url,
            prefix: ctx.keyPrefix,
            source: 'bench',
        });
        const topic = setup.schema
            ? defineTopic({ name: 'orders', schema: await orderSchema() })
            : defineTopic({ name: 'orders' });
        const pipe = new HeraldPipe(backend, topic, setup.size ?? SMALL);
        for (let g = 0; g < (setup.groups ?? 1); g++) {
            const group = `g${g}`;
            pipe.groups.push(group);
            for (let c = 0; c < (setup.consumers ?? 1); c++) {
                pipe.subs.push(backend.subscribe(topic, { group, consumer: `c${c}`, startFrom: 'new', ...CONSUMER }, (event) => {
                    pipe.count++;
                    pipe.onDelivery?.(event.data);
                }));
            }
        }
        await Promise.all(pipe.subs.map((s) => s.ready));
        return pipe;
    }
    publishBatch(from, n) {
        const events = [];
        for (let i = 0; i < n; i++)
            events.push({ data: makePayload(from + i, this.size) });
        return this.backend.publishBatch(this.topic, events).then(() => undefined);
    }
    publishOne(seq, t) {
        return this.backend.publish(this.topic, { data: makePayload(seq, this.size, t) });
    }
    delivered() {
        return this.count;
    }
    async settled() {
        const stream = partitionKeys(this.backend.prefix, this.topic, 0).stream;
        const replies = await this.backend.conn.pipeline(this.groups.map((g) => ['XPENDING', stream, g]));
        return replies.every((r) => Array.isArray(r) && Number(r[0]) === 0);
    }
    async close() {
        await this.backend.close({ deadlineMs: 1000 });
    }
}
async function withPipe(ctx, setup, run) {
    const pipe = await HeraldPipe.open(ctx, setup);
    try {
        return await run(pipe);
    }
    finally {
        await pipe.close();
    }
}
/** publish() per event, a batch of calls issued in the same tick (they share one round trip). */
export const heraldPublishSingle = (ctx) => withPipe(ctx, { groups: 0 }, (pipe) => publishOnly(ctx, (from, n) => {
    const all = [];
    for (let i = 0; i < n; i++)
        all.push(pipe.publishOne(from + i, 0));
    return Promise.all(all).then(() => undefined);
}, BATCH));
export const heraldPublishBatch = (ctx) => withPipe(ctx, { groups: 0 }, (pipe) => publishOnly(ctx, (f, n) => pipe.publishBatch(f, n), BATCH));
export const heraldEndToEnd = (setup) => (ctx) => withPipe(ctx, setup, (pipe) => endToEnd(ctx, pipe, { batch: BATCH, fanout: setup.groups ?? 1 }));
export const heraldLatency = (rate, setup = {}) => (ctx) => withPipe(ctx, setup, (pipe) => latencyAt(ctx, pipe, rate, setup.groups ?? 1));
export const heraldLatencyMax = (ctx) => withPipe(ctx, {}, (pipe) => highestSustained(ctx, pipe, ctx.quick ? 2000 : 2500));
//# sourceMappingURL=herald.js.map