/**
 * Memory per stored event: MEMORY USAGE (SAMPLES 0: every entry counted) over
 * XLEN, for a Herald topic and for raw XADD of the same JSON payload in one
 * `data` field, at 100 B and 1 KB payloads. No consumer group, no trimming.
 */
import { defineTopic, RedisBackend } from "../../src/index.js";
import { partitionKeys } from "../../src/redis/keys.js";
import { publishAll, runResult } from "../drive.js";
import { makePayload, LARGE, SMALL } from "../payload.js";
import { BATCH, client, xadd } from "./raw.js";
export async function memoryPerEvent(ctx) {
    const count = ctx.quick ? 2000 : 20_000;
    const raw = await client(ctx.url);
    const herald = await RedisBackend.connect({
        url: ctx.url,
        prefix: ctx.keyPrefix,
        source: 'bench',
    });
    const bytesPerEvent = async (key) => {
        const [usage, len] = await Promise.all([
            raw.sendCommand(['MEMORY', 'USAGE', key, 'SAMPLES', '0']),
            raw.sendCommand(['XLEN', key]),
        ]);
        return Number(usage) / Number(len);
    };
    try {
        const { value, cost } = await ctx.probe.measure(async () => {
            const out = {};
            for (const [label, size] of [
                ['', SMALL],
                ['1k', LARGE],
            ]) {
                const topic = defineTopic({ name: `mem${label}` });
                const stream = `${ctx.keyPrefix}:raw-mem${label}`;
                await publishAll((from, n) => herald
                    .publishBatch(topic, Array.from({ length: n }, (_, i) => ({ data: makePayload(from + i, size) })))
                    .then(() => undefined), 0, count, BATCH);
                await publishAll((from, n) => Promise.all(Array.from({ length: n }, (_, i) => xadd(raw, stream, makePayload(from + i, size)))).then(() => undefined), 0, count, BATCH);
                out[`herald${label}`] = await bytesPerEvent(partitionKeys(ctx.keyPrefix, topic, 0).stream);
                out[`raw${label}`] = await bytesPerEvent(stream);
            }
            return out;
        });
        return runResult(count * 4, cost, {
            memory: {
                heraldBytesPerEvent: value.herald,
                rawBytesPerEvent: value.raw,
                heraldBytesPerEvent1k: value.herald1k,
                rawBytesPerEvent1k: value.raw1k,
            },
            detail: { eventsPerStream: count },
        });
    }
    finally {
        await herald.close();
        await raw.close();
    }
}
//# sourceMappingURL=memory.js.map