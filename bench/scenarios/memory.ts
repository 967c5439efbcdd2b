/**
 * Memory per stored event: MEMORY USAGE (SAMPLES 0: every entry counted) over
 * XLEN, for a Herald topic and for raw XADD of the same JSON payload in one
 * `data` field, at 100 B and 1 KB payloads. No consumer group, no trimming.
 */
import { defineTopic, RedisBackend, partitionKeys, type Topic } from '../../src/index.ts';
import { publishAll, runResult } from '../drive.ts';
import { makePayload, LARGE, SMALL } from '../payload.ts';
import type { RunResult, ScenarioContext } from '../types.ts';
import { BATCH, client, xadd } from './raw.ts';

export async function memoryPerEvent(ctx: ScenarioContext): Promise<RunResult> {
  const count = ctx.quick ? 2000 : 20_000;
  const raw = await client(ctx.url);
  const herald = await RedisBackend.connect({
    url: ctx.url,
    prefix: ctx.keyPrefix,
    source: 'bench',
  });
  const bytesPerEvent = async (key: string): Promise<number> => {
    const [usage, len] = await Promise.all([
      raw.sendCommand(['MEMORY', 'USAGE', key, 'SAMPLES', '0']),
      raw.sendCommand(['XLEN', key]),
    ]);
    return Number(usage) / Number(len);
  };
  try {
    const { value, cost } = await ctx.probe.measure(async () => {
      const out: Record<string, number> = {};
      for (const [label, size] of [
        ['', SMALL],
        ['1k', LARGE],
      ] as const) {
        const topic: Topic<unknown> = defineTopic({ name: `mem${label}` });
        const stream = `${ctx.keyPrefix}:raw-mem${label}`;
        await publishAll(
          (from, n) =>
            herald
              .publishBatch(
                topic,
                Array.from({ length: n }, (_, i) => ({ data: makePayload(from + i, size) })),
              )
              .then(() => undefined),
          0,
          count,
          BATCH,
        );
        await publishAll(
          (from, n) =>
            Promise.all(
              Array.from({ length: n }, (_, i) => xadd(raw, stream, makePayload(from + i, size))),
            ).then(() => undefined),
          0,
          count,
          BATCH,
        );
        out[`herald${label}`] = await bytesPerEvent(partitionKeys(ctx.keyPrefix, topic, 0).stream);
        out[`raw${label}`] = await bytesPerEvent(stream);
      }
      return out;
    });
    return runResult(count * 4, cost, {
      memory: {
        heraldBytesPerEvent: value.herald as number,
        rawBytesPerEvent: value.raw as number,
        heraldBytesPerEvent1k: value.herald1k as number,
        rawBytesPerEvent1k: value.raw1k as number,
      },
      detail: { eventsPerStream: count },
    });
  } finally {
    await herald.close();
    await raw.close();
  }
}
