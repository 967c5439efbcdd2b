/**
 * One producer or consumer process of the scale benchmark (forked by main.ts, IPC channel).
 *
 * Protocol: the worker connects (a consumer also subscribes) and sends `ready`; on `start` it
 * takes its CPU baseline; a producer publishes its share and sends `done`; a consumer counts
 * handled events, sends `progress` every PROGRESS_MS, and on `stop` sends `done` and closes.
 * `done` carries the CPU time (user + system, µs) used since `start`.
 *
 * Environment: SCALE_ROLE producer|consumer, SCALE_URL, SCALE_PREFIX, SCALE_TOPIC,
 * SCALE_PARTITIONS, SCALE_EVENTS (producer: events to publish), SCALE_OFFSET (producer: first
 * sequence number), SCALE_KEYS (distinct partition keys), SCALE_ORDERED (1: ordered group),
 * SCALE_NAME.
 */
import { defineTopic, RedisBackend, type SubscribeOptions } from '../../src/index.ts';
import type { ParentMessage, WorkerMessage } from './protocol.ts';

const PROGRESS_MS = 200;
/** Events per publishBatch call, and calls in flight at once per producer. */
const PUBLISH_BATCH = 100;
const PUBLISH_IN_FLIGHT = 4;
/** Consumer settings: as the main benchmark's (bench/scenarios/herald.ts). */
const CONSUMER_BATCH = 500;
const CONSUMER_CONCURRENCY = 100;
const PAYLOAD_NOTE = 'x'.repeat(40);
const CLOSE_DEADLINE_MS = 2000;

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`scale worker: ${name} is not set`);
  return v;
}

function send(message: WorkerMessage): void {
  process.send?.(message);
}

const role = env('SCALE_ROLE');
const name = env('SCALE_NAME');
const topic = defineTopic<{ seq: number; customer: string; amount: number; note: string }>({
  name: env('SCALE_TOPIC'),
  partitions: Number(env('SCALE_PARTITIONS')),
});
const keys = Number(env('SCALE_KEYS'));
const ordered = process.env.SCALE_ORDERED === '1';

const backend = await RedisBackend.connect({
  url: env('SCALE_URL'),
  prefix: env('SCALE_PREFIX'),
  source: `scale-${name}`,
});

let cpuAtStart: NodeJS.CpuUsage | undefined;
const cpuSinceStart = (): number => {
  const used = process.cpuUsage(cpuAtStart);
  return used.user + used.system;
};

async function produce(): Promise<void> {
  const total = Number(env('SCALE_EVENTS'));
  const offset = Number(env('SCALE_OFFSET'));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < total) {
      const from = next;
      const n = Math.min(PUBLISH_BATCH, total - from);
      next += n;
      const events = [];
      for (let i = 0; i < n; i++) {
        const seq = offset + from + i;
        events.push({
          key: `k${seq % keys}`,
          data: { seq, customer: `c-${seq % 997}`, amount: seq % 10_000, note: PAYLOAD_NOTE },
        });
      }
      await backend.publishBatch(topic, events);
    }
  };
  await Promise.all(Array.from({ length: PUBLISH_IN_FLIGHT }, lane));
  send({ type: 'done', count: total, cpuMicros: cpuSinceStart() });
}

let handled = 0;

function consume(): Promise<void> {
  const options: SubscribeOptions<unknown> = {
    group: 'scale',
    consumer: name,
    startFrom: 'beginning',
    batchSize: CONSUMER_BATCH,
    concurrency: CONSUMER_CONCURRENCY,
    ordered,
  };
  const sub = backend.subscribe(topic, options, () => {
    handled++;
  });
  return sub.ready;
}

let progress: NodeJS.Timeout | undefined;

process.on('message', (message: ParentMessage) => {
  if (message.cmd === 'start') {
    cpuAtStart = process.cpuUsage();
    if (role === 'producer') {
      produce().catch((e: unknown) => {
        console.error(`${name}: publishing failed`, e);
        process.exit(1);
      });
    } else {
      progress = setInterval(() => send({ type: 'progress', count: handled }), PROGRESS_MS);
    }
  } else if (message.cmd === 'stop') {
    clearInterval(progress);
    send({ type: 'done', count: handled, cpuMicros: cpuSinceStart() });
    void backend.close({ deadlineMs: CLOSE_DEADLINE_MS }).finally(() => process.exit(0));
  }
});

if (role === 'consumer') await consume();
send({ type: 'ready' });
