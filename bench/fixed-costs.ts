/**
 * Diagnostic: Herald's fixed costs per flush and per read, against the bare client, at the
 * smallest batches (what dominates at low rates, where a flush or a read carries a few events).
 *
 * - publish: K events per flush (`publish()` called K times in one tick, then awaited), against
 *   K `sendCommand(XADD …, { timeout: 0 })` of the same compact envelope.
 * - consume: one event per read — a bare XADD, then wait until the handler saw it — through a
 *   Herald subscription, against a bare XREADGROUP/XACK loop reading the same entries.
 *
 * Both sides run in one process, in alternating blocks of ROUNDS rounds (the first two blocks
 * are warm-up); prints the median Node CPU per round of each and the difference.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/fixed-costs.ts [K]
 *
 * Use a Redis of its own: it writes under the `fixed-costs-<time>` prefix and deletes it at the end.
 */
import { createClient } from 'redis';
import { defineTopic, partitionKeys, RedisBackend } from '../src/index.ts';
import { makePayload, SMALL, type OrderPayload } from './payload.ts';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const perFlush = Number(process.argv[2] ?? 1);
const BLOCKS = 10;
const WARM_BLOCKS = 2;
const ROUNDS = 2000;
const NO_TIMEOUT = { timeout: 0 } as const;

const prefix = `fixed-costs-${Date.now()}`;
const backend = await RedisBackend.connect({ url, prefix, source: 'bench' });
const topic = defineTopic<OrderPayload>({ name: 'orders' });
const heraldStream = partitionKeys(prefix, topic, 0).stream;
const rawStream = `${prefix}:raw`;
const pub = createClient({ url, socket: { noDelay: true } });
const reader = createClient({ url, socket: { noDelay: true } });
await Promise.all([pub.connect(), reader.connect()]);

let seq = 0;
const envelope = (): string[] => [
  'XADD',
  rawStream,
  '*',
  'ce',
  JSON.stringify(['orders', 'bench', makePayload(seq++, SMALL)]),
];

// ---- publish: one flush of K events ----------------------------------------------------------
const flush = {
  herald: () => {
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < perFlush; i++)
      all.push(backend.publish(topic, { data: makePayload(seq++, SMALL) }));
    return Promise.all(all);
  },
  raw: () => {
    const all: Promise<unknown>[] = [];
    for (let i = 0; i < perFlush; i++) all.push(pub.sendCommand(envelope(), NO_TIMEOUT));
    return Promise.all(all);
  },
};

async function compare(what: string, sides: Record<'herald' | 'raw', () => Promise<unknown>>) {
  const cost: Record<'herald' | 'raw', number[]> = { herald: [], raw: [] };
  for (let b = 0; b < BLOCKS; b++) {
    for (const side of ['herald', 'raw'] as const) {
      const since = process.cpuUsage();
      for (let i = 0; i < ROUNDS; i++) await sides[side]();
      const c = process.cpuUsage(since);
      if (b >= WARM_BLOCKS) cost[side].push((c.user + c.system) / ROUNDS);
    }
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
  const h = median(cost.herald);
  const r = median(cost.raw);
  console.log(
    `${what}: Herald ${h.toFixed(1)} µs, bare client ${r.toFixed(1)} µs, difference ${(h - r).toFixed(1)} µs (median of ${BLOCKS - WARM_BLOCKS} blocks of ${ROUNDS})`,
  );
}

// Nothing reads yet: the publishing figures are publishing alone.
await compare(`publish, ${perFlush} event(s) per flush, Node CPU per flush`, flush);

// ---- consume: one event per read -------------------------------------------------------------
let seen: (() => void) | undefined;
const sub = backend.subscribe(
  topic,
  { group: 'g', startFrom: 'new', batchSize: 500, concurrency: 100 },
  (event) => {
    if (event.data.seq >= 0) seen?.();
  },
);
await sub.ready;
await pub.sendCommand(['XGROUP', 'CREATE', rawStream, 'g', '$', 'MKSTREAM']);
let reading = true;
const rawReader = (async () => {
  const read = ['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '500', 'BLOCK', '1000'];
  read.push('STREAMS', rawStream, '>');
  while (reading) {
    const reply = await reader
      .sendCommand<Record<string, [string, string[]][]> | null>(read, NO_TIMEOUT)
      .catch(() => null);
    if (!reply) continue;
    for (const entries of Object.values(reply)) {
      const ack = ['XACK', rawStream, 'g'];
      for (const [id, fields] of entries) {
        ack.push(id);
        const parsed = JSON.parse(fields[1] as string) as [string, string, OrderPayload];
        if (parsed[2].seq >= 0) seen?.();
      }
      void pub.sendCommand(ack, NO_TIMEOUT);
    }
  }
})();
const oneRead = (stream: string) => (): Promise<void> =>
  new Promise<void>((resolve) => {
    seen = resolve;
    const args = envelope();
    args[1] = stream;
    void pub.sendCommand(args, NO_TIMEOUT);
  });
const read = { herald: oneRead(heraldStream), raw: oneRead(rawStream) };

await compare('consume, one event per read, Node CPU per read (with its XADD)', read);

reading = false;
reader.destroy();
await rawReader;
await sub.close();
// Everything under the prefix: both streams and the topic registry the backend declared.
for await (const keys of pub.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 }))
  if (keys.length > 0) await pub.sendCommand(['DEL', ...keys]);
await pub.close();
await backend.close();
