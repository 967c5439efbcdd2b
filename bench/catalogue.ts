/**
 * Every benchmark scenario, in the order a run goes through them. Scenarios
 * load their library lazily, in the child process that runs them.
 */
import type { Kind, Library, ScenarioFn } from './types.ts';

export interface ScenarioDef {
  readonly id: string;
  readonly title: string;
  readonly library: Library;
  readonly kind: Kind;
  /** Events per run as a fraction of --events (see SHORT below). */
  readonly eventsFactor: number;
  readonly load: () => Promise<ScenarioFn>;
}

const raw = () => import('./scenarios/raw.ts');
const herald = () => import('./scenarios/herald.ts');
const bull = () => import('./scenarios/bullmq.ts');
const smq = () => import('./scenarios/smq.ts');
const pubsub = () => import('./scenarios/pubsub.ts');
const split = () => import('./scenarios/split.ts');
const mixed = () => import('./scenarios/mixed.ts');

/** Short names of the raw loops' ways of sending (scenarios/raw.ts has the long ones). */
const RAW_SEND_TITLE = {
  pipeline: 'multi().execAsPipeline()',
  timeout0: 'sendCommand timeout 0',
  default: 'sendCommand defaults',
  envelope: "sendCommand timeout 0, a Herald envelope's fields (compact layout)",
  'envelope-fields': "sendCommand timeout 0, a Herald envelope's fields ('fields' layout)",
} as const;

/*
 * Events per run, as a fraction of --events (200,000 by default). The rows the targets and
 * their diagnostics compare (publishing and end to end, Herald and the raw loops) run all of
 * them: 2–5 s of steady state after as long a warm-up, where 50,000 gave under a second. Other
 * rows run a quarter (50,000), slow peers fewer still, so five passes stay under half an hour.
 * Longer runs do not make passes agree: on a shared machine a whole pass can run up to twice as
 * slow for every library alike, which is why every ratio is taken pass by pass.
 */
const SHORT = 0.25;
const PEER = 0.075;
const SMQ = 0.025;

export const SCENARIOS: readonly ScenarioDef[] = [
  ...(['pipeline', 'timeout0', 'default'] as const).map((send): ScenarioDef => ({
    id: `raw-publish-${send}`,
    title: `raw XADD, 500 per round trip, ${RAW_SEND_TITLE[send]}`,
    library: 'raw',
    kind: 'throughput',
    eventsFactor: 1,
    load: async () => (await raw()).rawPublish(send),
  })),
  {
    id: 'herald-publish',
    title: 'Herald publish(), one event per call',
    library: 'herald',
    kind: 'throughput',
    eventsFactor: 1,
    load: async () => (await herald()).heraldPublishSingle,
  },
  {
    id: 'herald-publish-batch',
    title: 'Herald publishBatch(), 500 per call',
    library: 'herald',
    kind: 'throughput',
    eventsFactor: 1,
    load: async () => (await herald()).heraldPublishBatch,
  },
  ...(['pipeline', 'timeout0', 'default', 'envelope', 'envelope-fields'] as const).map(
    (send): ScenarioDef => ({
      id: `raw-e2e-${send}`,
      title: `raw loop end to end (XADD → XREADGROUP COUNT 500 → XACK), ${RAW_SEND_TITLE[send]}`,
      library: 'raw',
      kind: 'throughput',
      eventsFactor: 1,
      load: async () => (await raw()).rawEndToEnd(send),
    }),
  ),
  {
    id: 'herald-e2e',
    title: 'Herald end to end, 1 consumer',
    library: 'herald',
    kind: 'throughput',
    eventsFactor: 1,
    load: async () => (await herald()).heraldEndToEnd({}),
  },
  {
    id: 'herald-e2e-fields',
    title: "Herald end to end, 1 consumer, the 'fields' envelope layout",
    library: 'herald',
    kind: 'throughput',
    eventsFactor: 1,
    load: async () => (await herald()).heraldEndToEnd({ envelopeLayout: 'fields' }),
  },
  {
    id: 'herald-e2e-4',
    title: 'Herald end to end, 4 consumers',
    library: 'herald',
    kind: 'throughput',
    eventsFactor: SHORT,
    load: async () => (await herald()).heraldEndToEnd({ consumers: 4 }),
  },
  {
    id: 'herald-e2e-1kb',
    title: 'Herald end to end, 1 KB payload',
    library: 'herald',
    kind: 'throughput',
    eventsFactor: SHORT,
    load: async () => (await herald()).heraldEndToEnd({ size: 1024 }),
  },
  {
    id: 'herald-e2e-schema',
    title: 'Herald end to end, zod schema',
    library: 'herald',
    kind: 'throughput',
    eventsFactor: SHORT,
    load: async () => (await herald()).heraldEndToEnd({ schema: true }),
  },
  {
    id: 'herald-e2e-fanout3',
    title: 'Herald end to end, fan-out to 3 groups',
    library: 'herald',
    kind: 'throughput',
    eventsFactor: SHORT / 2,
    load: async () => (await herald()).heraldEndToEnd({ groups: 3 }),
  },
  ...([1, 2] as const).flatMap((consumers) =>
    (['raw', 'herald'] as const).map((library): ScenarioDef => ({
      id: `${library}-split-${consumers}`,
      title: `${library === 'raw' ? 'raw loop' : 'Herald'}, separate processes: 1 producer, ${consumers} consumer${consumers > 1 ? 's' : ''}`,
      library,
      kind: 'throughput',
      eventsFactor: SHORT,
      load: async () => (await split()).splitProcesses(library, consumers),
    })),
  ),
  {
    id: 'envelope-split-1',
    title:
      "raw consumer of Herald's envelope, separate processes: 1 Herald producer, 1 raw consumer",
    library: 'raw',
    kind: 'throughput',
    eventsFactor: SHORT,
    load: async () => (await split()).splitProcesses('envelope', 1),
  },
  {
    id: 'bullmq-add',
    title: 'BullMQ addBulk, 500 per call',
    library: 'bullmq',
    kind: 'throughput',
    eventsFactor: PEER,
    load: async () => (await bull()).bullAdd,
  },
  {
    id: 'bullmq-process',
    title: 'BullMQ Worker processing, concurrency 50',
    library: 'bullmq',
    kind: 'throughput',
    eventsFactor: PEER,
    load: async () => (await bull()).bullProcess,
  },
  {
    id: 'bullmq-e2e',
    title: 'BullMQ end to end (addBulk + Worker)',
    library: 'bullmq',
    kind: 'throughput',
    eventsFactor: PEER,
    load: async () => (await bull()).bullEndToEnd,
  },
  {
    id: 'smq-produce',
    title: 'redis-smq produce, 500 in flight',
    library: 'redis-smq',
    kind: 'throughput',
    eventsFactor: SMQ,
    load: async () => (await smq()).smqProduce,
  },
  {
    id: 'smq-consume',
    title: 'redis-smq consuming, 4 consumers',
    library: 'redis-smq',
    kind: 'throughput',
    eventsFactor: SMQ,
    load: async () => (await smq()).smqConsume,
  },
  {
    id: 'smq-e2e',
    title: 'redis-smq end to end, 4 consumers',
    library: 'redis-smq',
    kind: 'throughput',
    eventsFactor: SMQ,
    load: async () => (await smq()).smqEndToEnd,
  },
  {
    id: 'raw-latency-1k',
    title: 'raw loop latency @ 1k ev/s (sendCommand timeout 0)',
    library: 'raw',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await raw()).rawLatency(1000),
  },
  {
    id: 'herald-latency-1k',
    title: 'Herald latency @ 1k ev/s',
    library: 'herald',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await herald()).heraldLatency(1000),
  },
  {
    id: 'raw-latency-10k',
    title: 'raw loop latency @ 10k ev/s (sendCommand timeout 0)',
    library: 'raw',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await raw()).rawLatency(10_000),
  },
  {
    id: 'raw-latency-10k-multi',
    title:
      "diagnostic: raw loop latency @ 10k ev/s, a tick's XADDs in one MULTI/EXEC (as Herald's publish())",
    library: 'raw',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await raw()).rawLatencyTransaction(10_000),
  },
  {
    id: 'herald-latency-10k',
    title: 'Herald latency @ 10k ev/s',
    library: 'herald',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await herald()).heraldLatency(10_000),
  },
  {
    id: 'mixed-latency-herald-pub',
    title: "diagnostic: Herald publish() → raw loop's reader, latency @ 10k ev/s",
    library: 'herald',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await mixed()).mixedLatency('pub', 10_000),
  },
  {
    id: 'mixed-latency-herald-sub',
    title: "diagnostic: raw XADD of an envelope's fields → Herald subscription, latency @ 10k ev/s",
    library: 'herald',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await mixed()).mixedLatency('sub', 10_000),
  },
  {
    id: 'herald-latency-1kb',
    title: 'Herald latency @ 10k ev/s, 1 KB payload',
    library: 'herald',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await herald()).heraldLatency(10_000, { size: 1024 }),
  },
  {
    id: 'herald-latency-schema',
    title: 'Herald latency @ 10k ev/s, zod schema',
    library: 'herald',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await herald()).heraldLatency(10_000, { schema: true }),
  },
  {
    id: 'herald-latency-fanout3',
    title: 'Herald latency @ 10k ev/s, fan-out to 3 groups',
    library: 'herald',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await herald()).heraldLatency(10_000, { groups: 3 }),
  },
  {
    id: 'raw-latency-max',
    title: 'raw loop, highest sustained rate',
    library: 'raw',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await raw()).rawLatencyMax,
  },
  {
    id: 'herald-latency-max',
    title: 'Herald, highest sustained rate',
    library: 'herald',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await herald()).heraldLatencyMax,
  },
  {
    id: 'raw-pubsub-latency',
    title: 'raw PUBLISH/SUBSCRIBE latency @ 10k msg/s',
    library: 'raw',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await pubsub()).rawPubSubLatency(10_000),
  },
  {
    id: 'herald-notify-latency',
    title: 'Herald notifier latency @ 10k msg/s',
    library: 'herald',
    kind: 'latency',
    eventsFactor: 1,
    load: async () => (await pubsub()).heraldNotifyLatency(10_000),
  },
  {
    id: 'memory',
    title: 'memory per stored event (Herald envelope vs raw XADD)',
    library: 'herald',
    kind: 'memory',
    eventsFactor: 1,
    load: async () => (await import('./scenarios/memory.ts')).memoryPerEvent,
  },
];

/** Scenarios named by --only: ids, comma-separated, each exact or a prefix ending in `*`. */
export function selectScenarios(only: readonly string[] | undefined): ScenarioDef[] {
  if (!only || only.length === 0) return [...SCENARIOS];
  const patterns = only
    .flatMap((o) => o.split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  const picked = SCENARIOS.filter((s) =>
    patterns.some((p) => (p.endsWith('*') ? s.id.startsWith(p.slice(0, -1)) : s.id === p)),
  );
  if (picked.length === 0) {
    throw new Error(
      `--only ${only.join(',')} matches no scenario; known: ${SCENARIOS.map((s) => s.id).join(', ')}`,
    );
  }
  return picked;
}

/** Events per throughput run when --events is not given (the rows the targets compare run all of them). */
export const DEFAULT_EVENTS = 200_000;

/** The events a run of `def` publishes when the benchmark is asked for `events`. */
export function eventsFor(def: ScenarioDef, events: number): number {
  return Math.max(500, Math.round(events * def.eventsFactor));
}

export function scenarioById(id: string): ScenarioDef {
  const def = SCENARIOS.find((s) => s.id === id);
  if (!def) throw new Error(`unknown scenario '${id}'`);
  return def;
}
