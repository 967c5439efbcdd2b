/**
 * The raw node-redis loop: the floor any library built on this client pays.
 * Publishing is XADD, pipelined (every command of a batch issued in the same
 * tick, which node-redis writes as one batch); consuming is XREADGROUP with
 * COUNT 500 on a blocking connection, JSON.parse of each payload, and one XACK
 * per batch on the publishing connection.
 */
import { createClient } from 'redis';
import { endToEnd, highestSustained, latencyAt, publishOnly } from "../drive.js";
import { makePayload, SMALL } from "../payload.js";
function newClient(url) {
    const c = createClient({ url, socket: { noDelay: true } });
    c.on('error', () => { });
    return c;
}
export const RAW_COUNT = 500;
export const BATCH = 500;
/** A connected node-redis client (Nagle off, errors left to the commands). */
export async function client(url) {
    const c = newClient(url);
    await c.connect();
    return c;
}
/** XADD of one JSON payload in a `data` field: what an application on the bare client writes. */
export function xadd(c, stream, payload) {
    return c.sendCommand(['XADD', stream, '*', 'data', JSON.stringify(payload)]);
}
export class RawPipe {
    pub;
    readers;
    stream;
    group;
    onDelivery;
    count = 0;
    running = true;
    loops = [];
    constructor(pub, readers, stream, group) {
        this.pub = pub;
        this.readers = readers;
        this.stream = stream;
        this.group = group;
    }
    static async open(url, stream) {
        const pub = await client(url);
        await pub.sendCommand(['XGROUP', 'CREATE', stream, 'g', '$', 'MKSTREAM']);
        const reader = await client(url);
        const pipe = new RawPipe(pub, [reader], stream, 'g');
        pipe.loops.push(pipe.readLoop(reader, 'c1'));
        return pipe;
    }
    async readLoop(reader, consumer) {
        const { stream, group } = this;
        while (this.running) {
            let reply;
            try {
                reply = await reader.sendCommand([
                    'XREADGROUP',
                    'GROUP',
                    group,
                    consumer,
                    'COUNT',
                    String(RAW_COUNT),
                    'BLOCK',
                    '1000',
                    'STREAMS',
                    stream,
                    '>',
                ]);
            }
            catch (e) {
                if (!this.running)
                    return;
                throw e;
            }
            if (!reply)
                continue;
            for (const [, entries] of Array.isArray(reply) ? reply : Object.entries(reply)) {
                const ids = [];
                for (const [id, fields] of entries) {
                    ids.push(id);
                    if (!fields)
                        continue;
                    const data = JSON.parse(fields[1]);
                    this.count++;
                    this.onDelivery?.(data);
                }
                if (ids.length > 0)
                    void this.pub.sendCommand(['XACK', stream, group, ...ids]);
            }
        }
    }
    publishBatch(from, n) {
        const all = [];
        for (let i = 0; i < n; i++)
            all.push(xadd(this.pub, this.stream, makePayload(from + i, SMALL)));
        return Promise.all(all).then(() => undefined);
    }
    publishOne(seq, t) {
        return xadd(this.pub, this.stream, makePayload(seq, SMALL, t));
    }
    delivered() {
        return this.count;
    }
    async settled() {
        const summary = await this.pub.sendCommand(['XPENDING', this.stream, this.group]);
        return Number(summary[0]) === 0;
    }
    async close() {
        this.running = false;
        for (const r of this.readers)
            r.destroy();
        await Promise.allSettled(this.loops);
        await this.pub.close();
    }
}
export async function rawPublish(ctx) {
    const c = await client(ctx.url);
    try {
        const stream = `${ctx.keyPrefix}:raw-publish`;
        return await publishOnly(ctx, (from, n) => {
            const all = [];
            for (let i = 0; i < n; i++)
                all.push(xadd(c, stream, makePayload(from + i, SMALL)));
            return Promise.all(all).then(() => undefined);
        }, BATCH);
    }
    finally {
        await c.close();
    }
}
async function withPipe(ctx, run) {
    const pipe = await RawPipe.open(ctx.url, `${ctx.keyPrefix}:raw`);
    try {
        return await run(pipe);
    }
    finally {
        await pipe.close();
    }
}
export const rawEndToEnd = (ctx) => withPipe(ctx, (pipe) => endToEnd(ctx, pipe, { batch: BATCH }));
export const rawLatency = (rate) => (ctx) => withPipe(ctx, (pipe) => latencyAt(ctx, pipe, rate));
export const rawLatencyMax = (ctx) => withPipe(ctx, (pipe) => highestSustained(ctx, pipe, ctx.quick ? 2000 : 2500));
//# sourceMappingURL=raw.js.map