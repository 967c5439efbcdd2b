/**
 * `npm run bench:scale [-- --quick] [--ordered] [--shards 1,3] [--producers 2] [--consumers 2]
 *  [--events 200000] [--partitions 12] [--keys 1000] [--json]`
 *
 * Herald on 1 shard (a standalone redis-server) and on N shards (a Redis Cluster of N
 * primaries), each started here, with several producer and consumer processes (worker.ts):
 * producers publish `--events` in total (batches of 100, keys spread over the topic's
 * partitions), one consumer group shares them (`--ordered`: an ordered group). Reports per
 * run the events/s end to end (publishing and consuming at once, until every event is
 * handled), Node CPU per event in the producers and in the consumers, and Redis CPU per event
 * on each shard (INFO cpu before and after, over the events stored on that shard); then
 * projects from those costs what N shards on N cores would carry and which resource runs out
 * first (projection.ts). Exit 1 when a run fails or not every event is handled.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { defineTopic, partitionKeys } from '../../src/index.ts';
import { firstToRunOut, project, type CostPerEvent } from './projection.ts';
import type { ParentMessage, WorkerMessage } from './protocol.ts';
import { commandAt, redisCpuSeconds, startScaleTopology, type ScaleTopology } from './topology.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROJECTED_SHARDS = [1, 3, 6, 12, 24];
const QUICK = { events: 3000, producers: 2, consumers: 2 } as const;
/** A run that has not handled every event by then is reported as failed. */
const RUN_TIMEOUT_MS = 600_000;
const QUICK_RUN_TIMEOUT_MS = 40_000;
const POLL_MS = 50;
const MICROS_PER_SECOND = 1_000_000;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    ordered: { type: 'boolean', default: false },
    shards: { type: 'string', default: '1,3' },
    producers: { type: 'string' },
    consumers: { type: 'string' },
    events: { type: 'string' },
    partitions: { type: 'string', default: '12' },
    keys: { type: 'string', default: '1000' },
    json: { type: 'boolean', default: false },
  },
});

function usage(message: string): never {
  console.error(`bench:scale: ${message}`);
  process.exit(2);
}

const quick = values.quick === true;
const shardCounts = (values.shards ?? '').split(',').map(Number);
const producers = Number(values.producers ?? (quick ? QUICK.producers : 2));
const consumers = Number(values.consumers ?? (quick ? QUICK.consumers : 2));
const events = Number(values.events ?? (quick ? QUICK.events : 200_000));
const partitions = Number(values.partitions);
const keys = Number(values.keys);
const ordered = values.ordered === true;
for (const [name, v] of Object.entries({ producers, consumers, events, partitions, keys }))
  if (!Number.isInteger(v) || v < 1) usage(`--${name} must be a positive integer`);
if (!shardCounts.every((n) => Number.isInteger(n) && n >= 1))
  usage('--shards must list positive integers, e.g. 1,3');

export interface ShardFigures {
  readonly shard: number;
  readonly port: number;
  readonly events: number;
  readonly cpuSeconds: number;
  /** Redis CPU µs per event stored on this shard. */
  readonly cpuMicrosPerEvent: number;
}

export interface RunFigures {
  readonly shards: number;
  readonly producers: number;
  readonly consumers: number;
  readonly events: number;
  readonly handled: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly publishSeconds: number;
  readonly producerCpuMicrosPerEvent: number;
  readonly consumerCpuMicrosPerEvent: number;
  readonly redisCpuMicrosPerEvent: number;
  readonly perShard: readonly ShardFigures[];
}

interface Worker {
  readonly name: string;
  readonly role: 'producer' | 'consumer';
  readonly proc: ChildProcess;
  count: number;
  done: { count: number; cpuMicros: number } | undefined;
  ready: boolean;
}

function startWorker(
  role: Worker['role'],
  name: string,
  env: Record<string, string>,
  onExit: (w: Worker, code: number | null) => void,
): Worker {
  const proc = fork(path.join(HERE, 'worker.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      HERALD_LOG_LEVEL: process.env.HERALD_LOG_LEVEL ?? 'warn',
      SCALE_ROLE: role,
      SCALE_NAME: name,
      ...env,
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const w: Worker = { name, role, proc, count: 0, done: undefined, ready: false };
  proc.on('message', (m: WorkerMessage) => {
    if (m.type === 'ready') w.ready = true;
    else if (m.type === 'progress') w.count = m.count;
    else {
      w.count = m.count;
      w.done = { count: m.count, cpuMicros: m.cpuMicros };
    }
  });
  proc.on('exit', (code) => onExit(w, code));
  return w;
}

const tell = (w: Worker, m: ParentMessage): void => void w.proc.send(m);

async function until(what: string, cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let failure: Error | undefined;
  while (!cond()) {
    if (crashed !== undefined) failure = crashed;
    else if (Date.now() > deadline) failure = new Error(`timed out waiting for ${what}`);
    if (failure) throw failure;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

let crashed: Error | undefined;

async function runOnce(dir: string, shards: number): Promise<RunFigures> {
  const topology: ScaleTopology = await startScaleTopology(
    path.join(dir, `shards-${shards}`),
    shards,
  );
  const prefix = `scale${shards}`;
  const topicName = 'orders';
  const workers: Worker[] = [];
  const timeoutMs = quick ? QUICK_RUN_TIMEOUT_MS : RUN_TIMEOUT_MS;
  crashed = undefined;
  let stopping = false;
  const onExit = (w: Worker, code: number | null): void => {
    if (!stopping && code !== 0 && !(w.role === 'producer' && w.done))
      crashed = new Error(`${w.name} exited with code ${code}`);
  };
  try {
    const common = {
      SCALE_URL: topology.url,
      SCALE_PREFIX: prefix,
      SCALE_TOPIC: topicName,
      SCALE_PARTITIONS: String(partitions),
      SCALE_KEYS: String(keys),
      SCALE_ORDERED: ordered ? '1' : '0',
    };
    for (let i = 0; i < consumers; i++)
      workers.push(startWorker('consumer', `consumer-${i}`, common, onExit));
    const share = Math.floor(events / producers);
    for (let i = 0; i < producers; i++) {
      const count = i === producers - 1 ? events - share * (producers - 1) : share;
      workers.push(
        startWorker(
          'producer',
          `producer-${i}`,
          { ...common, SCALE_EVENTS: String(count), SCALE_OFFSET: String(i * share) },
          onExit,
        ),
      );
    }
    await until('the workers to be ready', () => workers.every((w) => w.ready), timeoutMs);
    const cpuBefore = await Promise.all(topology.nodes.map((n) => redisCpuSeconds(n.port)));
    const t0 = performance.now();
    for (const w of workers) tell(w, { cmd: 'start' });
    const producing = workers.filter((w) => w.role === 'producer');
    const consuming = workers.filter((w) => w.role === 'consumer');
    let publishSeconds = 0;
    await until(
      'every event to be handled',
      () => {
        if (publishSeconds === 0 && producing.every((w) => w.done))
          publishSeconds = (performance.now() - t0) / 1000;
        return consuming.reduce((n, w) => n + w.count, 0) >= events;
      },
      timeoutMs,
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpuAfter = await Promise.all(topology.nodes.map((n) => redisCpuSeconds(n.port)));
    stopping = true;
    for (const w of consuming) tell(w, { cmd: 'stop' });
    await until('the consumers to report', () => consuming.every((w) => w.done), timeoutMs);
    await until('the producers to report', () => producing.every((w) => w.done), timeoutMs);

    // Events stored per shard: each partition's stream, on the node owning its slot.
    const topic = defineTopic({ name: topicName, partitions });
    const stored = new Array<number>(shards).fill(0);
    for (let p = 0; p < partitions; p++) {
      const stream = partitionKeys(prefix, topic, p).stream;
      const shard = await topology.shardOf(stream);
      const node = topology.nodes[shard];
      if (node === undefined) throw new Error(`no node for shard ${shard}`);
      stored[shard] = (stored[shard] ?? 0) + (await commandAt<number>(node.port, ['XLEN', stream]));
    }
    const perShard = topology.nodes.map((n, i) => {
      const cpuSeconds = (cpuAfter[i] ?? 0) - (cpuBefore[i] ?? 0);
      const onShard = stored[i] ?? 0;
      return {
        shard: i,
        port: n.port,
        events: onShard,
        cpuSeconds,
        cpuMicrosPerEvent: onShard === 0 ? 0 : (cpuSeconds * MICROS_PER_SECOND) / onShard,
      };
    });
    const cpuOf = (ws: Worker[]): number => ws.reduce((n, w) => n + (w.done?.cpuMicros ?? 0), 0);
    const redisMicros = perShard.reduce((n, s) => n + s.cpuSeconds, 0) * MICROS_PER_SECOND;
    return {
      shards,
      producers,
      consumers,
      events,
      handled: consuming.reduce((n, w) => n + (w.done?.count ?? 0), 0),
      seconds,
      eventsPerSecond: events / seconds,
      publishSeconds,
      producerCpuMicrosPerEvent: cpuOf(producing) / events,
      consumerCpuMicrosPerEvent: cpuOf(consuming) / events,
      redisCpuMicrosPerEvent: redisMicros / events,
      perShard,
    };
  } finally {
    stopping = true;
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL');
    await topology.stop();
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const us = (n: number): string => `${n.toFixed(1)} µs`;

function printRun(r: RunFigures): void {
  console.log(
    `\n${r.shards} shard${r.shards > 1 ? 's' : ''} (${r.shards === 1 ? 'standalone redis-server' : `Redis Cluster, ${r.shards} primaries`}), ${r.producers} producers, ${r.consumers} consumers, ${int(r.events)} events:`,
  );
  console.log(
    `  end to end   ${int(r.eventsPerSecond)} events/s (${r.seconds.toFixed(1)} s; publishing done after ${r.publishSeconds.toFixed(1)} s), handled ${int(r.handled)}`,
  );
  console.log(
    `  Node CPU     producers ${us(r.producerCpuMicrosPerEvent)}/event, consumers ${us(r.consumerCpuMicrosPerEvent)}/event`,
  );
  console.log(`  Redis CPU    ${us(r.redisCpuMicrosPerEvent)}/event over all shards`);
  for (const s of r.perShard)
    console.log(
      `    shard ${s.shard}    ${us(s.cpuMicrosPerEvent)}/event on it (${int(s.events)} events, ${s.cpuSeconds.toFixed(2)} CPU s)`,
    );
}

/** Per-event costs of a run, Redis's as the mean per shard weighted by events. */
export function costOf(r: RunFigures): CostPerEvent {
  return {
    redisMicros: r.redisCpuMicrosPerEvent,
    producerMicros: r.producerCpuMicrosPerEvent,
    consumerMicros: r.consumerCpuMicrosPerEvent,
  };
}

function printProjection(r: RunFigures): void {
  const cost = costOf(r);
  console.log(
    `\nprojection from the ${r.shards}-shard run (Redis ${us(cost.redisMicros)}/event on its shard, Node ${us(cost.producerMicros)} producing + ${us(cost.consumerMicros)} consuming):`,
  );
  console.log(
    '  shards  Redis alone on N cores  + Node cores needed  Redis and Node sharing N cores',
  );
  for (const row of project(cost, PROJECTED_SHARDS)) {
    console.log(
      `  ${String(row.shards).padStart(6)}  ${`${int(row.redisBoundEventsPerSecond)} ev/s`.padStart(22)}  ${row.nodeCoresAtRedisBound.toFixed(1).padStart(18)}  ${`${int(row.sharedCoresEventsPerSecond)} ev/s`.padStart(30)}`,
    );
  }
  console.log(`  ${firstToRunOut(cost)}`);
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-scale-'));
const cores = os.cpus().length;
console.log(
  `bench:scale — ${quick ? 'quick, ' : ''}${ordered ? 'ordered group (ordered: true)' : 'unordered group'}, topic of ${partitions} partitions, ${keys} keys; this machine: ${cores} cores, load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')}`,
);
const runs: RunFigures[] = [];
let failed = false;
try {
  for (const shards of shardCounts) {
    try {
      const r = await runOnce(dir, shards);
      runs.push(r);
      printRun(r);
      if (r.handled < r.events) failed = true;
    } catch (e) {
      failed = true;
      console.error(`\n${shards} shards: failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  const widest = runs.reduce<RunFigures | undefined>(
    (a, r) => (a === undefined || r.shards > a.shards ? r : a),
    undefined,
  );
  if (widest) printProjection(widest);
  console.log(
    `\nAll processes share this machine's ${cores} cores: the measured events/s are bounded by it, not by Redis; the per-event CPU costs are what the projection uses.`,
  );
  if (values.json) console.log(JSON.stringify({ runs }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
