/**
 * Diagnostic: the consume side alone. N Herald envelopes are stored once (publishBatch); then,
 * three times each, a new group reads them all with a Herald subscription (batchSize 500,
 * concurrency 100, a handler that reads the payload) and with a bare node-redis loop in the same
 * process (XREADGROUP COUNT 500, `JSON.parse` of the envelope, one XACK per batch: the raw
 * consumer of the same entries). Prints Node CPU per event of each (median of three) and their
 * ratio. Nothing else runs in the process, so the figures are steadier than the end-to-end ones.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 N=100000 node --import tsx bench/consume-only.ts
 *
 * Use a Redis of its own: it writes `consume-only:{orders:0}:stream` and leaves it there (later
 * runs reuse the stored events).
 */
import { createClient } from 'redis';
import { defineTopic, RedisBackend } from '../src/index.ts';
import { makePayload, SMALL, type OrderPayload } from './payload.ts';
import { payloadOf } from './scenarios/raw.ts';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const count = Number(process.env.N ?? 100_000);
const prefix = 'consume-only';
const BATCH = 500;
const ROUNDS = 3;

const backend = await RedisBackend.connect({ url, prefix, source: 'bench' });
const topic = defineTopic<OrderPayload>({ name: 'orders' });
const stream = `${prefix}:{orders:0}:stream`;
const admin = createClient({ url });
await admin.connect();

const stored = Number(await admin.sendCommand(['XLEN', stream]));
for (let i = stored; i < count; i += BATCH) {
  const events = Array.from({ length: BATCH }, (_, j) => ({ data: makePayload(i + j, SMALL) }));
  await backend.publishBatch(topic, events);
}

function cpuUs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return c.user + c.system;
}

async function herald(group: string): Promise<number> {
  let handled = 0;
  let done!: () => void;
  const all = new Promise<void>((resolve) => (done = resolve));
  const t0 = process.cpuUsage();
  const sub = backend.subscribe(
    topic,
    { group, consumer: 'c', startFrom: 'beginning', batchSize: BATCH, concurrency: 100 },
    (event) => {
      if (event.data.seq >= 0 && ++handled === count) done();
    },
  );
  await all;
  const us = cpuUs(t0);
  await sub.close();
  return us / count;
}

type Entry = [string, string[] | null];
type ReadReply = Record<string, Entry[]> | [string, Entry[]][] | null;

async function raw(group: string): Promise<number> {
  await admin.sendCommand(['XGROUP', 'CREATE', stream, group, '0']);
  const reader = createClient({ url });
  await reader.connect();
  let handled = 0;
  const t0 = process.cpuUsage();
  while (handled < count) {
    const read = ['XREADGROUP', 'GROUP', group, 'c', 'COUNT', String(BATCH), 'BLOCK', '1000'];
    const reply = await reader.sendCommand<ReadReply>([...read, 'STREAMS', stream, '>'], {
      timeout: 0,
    });
    if (!reply) continue;
    for (const [, entries] of Array.isArray(reply) ? reply : Object.entries(reply)) {
      const ack = ['XACK', stream, group];
      for (const [id, fields] of entries) {
        ack.push(id);
        if (!fields) continue;
        if (payloadOf(fields).seq >= 0) handled++;
      }
      void admin.sendCommand(ack, { timeout: 0 });
    }
  }
  const us = cpuUs(t0);
  reader.destroy();
  return us / count;
}

const median = (xs: number[]): number =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const tag = `${process.pid}-${Date.now()}`;
const rawUs: number[] = [];
const heraldUs: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  rawUs.push(await raw(`raw-${tag}-${i}`));
  heraldUs.push(await herald(`herald-${tag}-${i}`));
}
console.log(
  JSON.stringify({
    events: count,
    rawUsPerEvent: median(rawUs),
    heraldUsPerEvent: median(heraldUs),
    ratio: median(heraldUs) / median(rawUs),
    raw: rawUs,
    herald: heraldUs,
  }),
);
await backend.close();
await admin.close();
