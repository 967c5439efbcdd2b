/**
 * One process of a separate-process scenario (scenarios/split.ts): a producer or a consumer,
 * raw node-redis or Herald, measuring its own Node CPU between the parent's marks. Started
 * with an IPC channel; see SplitCommand for what the parent asks.
 */
import { defineTopic, RedisBackend, type Topic } from '../src/index.ts';
import { makePayload, SMALL, type OrderPayload } from './payload.ts';
import { BATCH, client, payloadOf, RAW_COUNT, xaddBatch, type RawClient } from './scenarios/raw.ts';

export interface SplitSetup {
  readonly role: 'producer' | 'consumer';
  readonly library: 'raw' | 'herald';
  readonly url: string;
  /** Herald's key prefix; the raw loops use `stream`. */
  readonly prefix: string;
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
}

export type SplitCommand =
  | { readonly cmd: 'start'; readonly setup: SplitSetup }
  | { readonly cmd: 'publish'; readonly from: number; readonly count: number }
  | { readonly cmd: 'mark' }
  | { readonly cmd: 'report' }
  | { readonly cmd: 'exit' };

export type SplitReply =
  | { readonly type: 'ready' }
  | { readonly type: 'published'; readonly cpuUs: number }
  | { readonly type: 'marked' }
  | { readonly type: 'report'; readonly cpuUs: number; readonly delivered: number }
  | { readonly type: 'failed'; readonly message: string };

type Entry = [string, string[] | null];
type ReadReply = Record<string, Entry[]> | [string, Entry[]][] | null;

function reply(m: SplitReply): void {
  process.send?.(m);
}

function cpuNow(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

let delivered = 0;
let mark = cpuNow();
let publish: (from: number, count: number) => Promise<void> = () => Promise.resolve();
let close: () => Promise<void> = () => Promise.resolve();

async function startRaw(s: SplitSetup): Promise<void> {
  const c: RawClient = await client(s.url);
  if (s.role === 'producer') {
    publish = async (from, count) => {
      for (let done = 0; done < count; done += BATCH)
        await xaddBatch(c, 'timeout0', s.stream, from + done, Math.min(BATCH, count - done));
    };
    close = () => c.close();
    return;
  }
  const reader = await client(s.url);
  let running = true;
  const read = ['XREADGROUP', 'GROUP', s.group, s.consumer, 'COUNT', String(RAW_COUNT)];
  const loop = (async () => {
    while (running) {
      const r = await reader
        .sendCommand<ReadReply>([...read, 'BLOCK', '1000', 'STREAMS', s.stream, '>'], {
          timeout: 0,
        })
        .catch(() => null);
      if (!r) continue;
      for (const [, entries] of Array.isArray(r) ? r : Object.entries(r)) {
        const ack = ['XACK', s.stream, s.group];
        for (const [id, fields] of entries) {
          ack.push(id);
          if (!fields) continue;
          payloadOf(fields);
          delivered++;
        }
        if (ack.length > 3) void c.sendCommand(ack, { timeout: 0 });
      }
    }
  })();
  close = async () => {
    running = false;
    reader.destroy();
    await loop;
    await c.close();
  };
}

async function startHerald(s: SplitSetup): Promise<void> {
  const backend = await RedisBackend.connect({ url: s.url, prefix: s.prefix, source: 'bench' });
  const topic: Topic<OrderPayload> = defineTopic<OrderPayload>({ name: 'orders' });
  close = () => backend.close({ deadlineMs: 1000 });
  if (s.role === 'producer') {
    publish = async (from, count) => {
      for (let done = 0; done < count; done += BATCH) {
        const n = Math.min(BATCH, count - done);
        const events = [];
        for (let i = 0; i < n; i++) events.push({ data: makePayload(from + done + i, SMALL) });
        await backend.publishBatch(topic, events);
      }
    };
    return;
  }
  const sub = backend.subscribe(
    topic,
    { group: s.group, consumer: s.consumer, startFrom: 'new', batchSize: 500, concurrency: 100 },
    () => {
      delivered++;
    },
  );
  await sub.ready;
}

process.on('message', (m: SplitCommand) => {
  const run = async (): Promise<void> => {
    switch (m.cmd) {
      case 'start':
        await (m.setup.library === 'raw' ? startRaw(m.setup) : startHerald(m.setup));
        reply({ type: 'ready' });
        return;
      case 'publish': {
        const t0 = cpuNow();
        await publish(m.from, m.count);
        reply({ type: 'published', cpuUs: cpuNow() - t0 });
        return;
      }
      case 'mark':
        mark = cpuNow();
        delivered = 0;
        reply({ type: 'marked' });
        return;
      case 'report':
        reply({ type: 'report', cpuUs: cpuNow() - mark, delivered });
        return;
      case 'exit':
        await close().catch(() => {});
        process.exit(0);
    }
  };
  run().catch((e: unknown) => reply({ type: 'failed', message: String(e) }));
});
