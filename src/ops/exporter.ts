/**
 * The Prometheus exporter: reads Herald's state from Redis and shows it on
 * `/metrics` — per topic and partition the stream length, memory and dead
 * letters; per group lag (counted where Redis's figure cannot be trusted),
 * entries read, pending, age of the oldest pending event, consumers and how
 * long it made no progress while events wait; per group the lag summed over the
 * topic's partitions (what an autoscaler such as KEDA scales on); per partition
 * of an ordered group its owner, fencing epoch and lease left; Redis's memory
 * and the capacity verdict; per work queue the items pending, processing and dead.
 *
 * Cost per scrape is bounded: three pipelined round trips whose commands grow
 * with topics × partitions (× groups), at most `maxTopics` topics, the most
 * idle `maxConsumersPerGroup` consumers per group, and the result cached for
 * `cacheMs` so that several Prometheus servers scraping at once cost one read.
 * Work queues have no registry: they are found with a SCAN bounded in calls
 * (see queue-inspect.ts), plus the ones named in `queues`.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RedisConnection } from '../redis/connection.ts';
import { DEFAULT_PREFIX } from '../redis/keys.ts';
import { snapshot, type Snapshot } from './inspect.ts';
import { opsLogger, type OpsLogger } from './log.ts';
import { QueueFinder, queuesSnapshot, type QueuesSnapshot } from './queue-inspect.ts';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The metric families the exporter can emit. */
export const EXPORTER_METRICS = {
  redisUp: 'herald_redis_up',
  memoryUsed: 'herald_redis_memory_used_bytes',
  memoryMax: 'herald_redis_memory_max_bytes',
  capacityOk: 'herald_capacity_ok',
  capacityThreshold: 'herald_capacity_threshold_ratio',
  topicPartitions: 'herald_topic_partitions',
  streamLength: 'herald_stream_length',
  streamMemory: 'herald_stream_memory_bytes',
  deadLetters: 'herald_dead_letters',
  streamEntriesAdded: 'herald_stream_entries_added_total',
  groupLag: 'herald_group_lag',
  groupLagAtLeast: 'herald_group_lag_lower_bound',
  groupTopicLag: 'herald_group_topic_lag',
  groupTopicLagAtLeast: 'herald_group_topic_lag_lower_bound',
  partitionOwned: 'herald_partition_owned',
  partitionEpoch: 'herald_partition_epoch',
  partitionLease: 'herald_partition_lease_seconds',
  groupEntriesRead: 'herald_group_entries_read_total',
  groupSecondsSinceProgress: 'herald_group_seconds_since_progress',
  groupPending: 'herald_group_pending',
  groupOldestPendingAge: 'herald_group_oldest_pending_age_seconds',
  groupConsumers: 'herald_group_consumers',
  consumerIdle: 'herald_consumer_idle_seconds',
  consumerPending: 'herald_consumer_pending',
  queuePending: 'herald_queue_pending',
  queueProcessing: 'herald_queue_processing',
  queueDead: 'herald_queue_dead',
  exporterQueues: 'herald_exporter_queues',
  exporterQueuesOmitted: 'herald_exporter_queues_omitted',
  exporterQueuesComplete: 'herald_exporter_queue_discovery_complete',
  exporterQueueCommands: 'herald_exporter_queue_redis_commands',
  exporterTopics: 'herald_exporter_topics',
  exporterTopicsOmitted: 'herald_exporter_topics_omitted',
  exporterCommands: 'herald_exporter_redis_commands',
  exporterDuration: 'herald_exporter_collect_duration_seconds',
} as const;

const HELP: Record<string, string> = {
  herald_redis_up: '1 when the last collection could read Redis, else 0.',
  herald_redis_memory_used_bytes: 'Memory Redis uses (INFO memory used_memory).',
  herald_redis_memory_max_bytes: 'Redis maxmemory; 0 means no limit.',
  herald_capacity_ok:
    '1 while publishes are accepted: used memory below the capacity threshold of maxmemory.',
  herald_capacity_threshold_ratio: 'Fraction of maxmemory from which publishes are refused.',
  herald_topic_partitions: 'Partitions of the topic.',
  herald_stream_length: 'Entries in the partition stream (XLEN).',
  herald_stream_memory_bytes: 'Memory of the partition stream (MEMORY USAGE, sampled).',
  herald_dead_letters: 'Entries in the partition dead-letter stream.',
  herald_stream_entries_added_total:
    'Entries ever added to the partition stream (XINFO STREAM entries-added).',
  herald_group_lag:
    'Entries of the partition not yet delivered to the group, counted after its last delivered id (Redis 7.0 XINFO lag is wrong after an AOF reload).',
  herald_group_lag_lower_bound:
    '1 when herald_group_lag is a lower bound: more unread entries than the exporter counts.',
  herald_group_topic_lag:
    'Entries of the topic not yet delivered to the group, summed over its partitions (herald_group_lag); scale consumers on it (KEDA).',
  herald_group_topic_lag_lower_bound:
    '1 when herald_group_topic_lag is a lower bound (some partition has more unread entries than the exporter counts).',
  herald_partition_owned:
    'Ordered groups: 1 while `owner` holds the lease of the partition; an unowned partition shows owner="" and 0.',
  herald_partition_epoch:
    'Ordered groups: the fencing epoch of the partition, incremented at every take-over; increase() over a window counts rebalances.',
  herald_partition_lease_seconds:
    "Ordered groups: seconds left on the owner's lease of the partition; 0 when unowned.",
  herald_group_entries_read_total:
    'Entries of the partition delivered to the group: entries added minus unread (absent while the lag is a lower bound).',
  herald_group_seconds_since_progress:
    'Seconds the group made no progress while entries wait (unread or pending): age of the longest-waiting entry, capped by the idle time of its most recently active consumer; 0 when nothing waits.',
  herald_group_pending: 'Entries delivered to the group and not yet acknowledged.',
  herald_group_oldest_pending_age_seconds:
    'Age of the oldest pending entry since it was published; 0 when none is pending.',
  herald_group_consumers: 'Consumers registered in the group on the partition.',
  herald_consumer_idle_seconds:
    'Seconds since the consumer last read or claimed (most idle consumers per group only).',
  herald_consumer_pending: 'Entries the consumer holds (most idle consumers per group only).',
  herald_queue_pending: 'Items of the work queue waiting to be taken.',
  herald_queue_processing:
    'Items of the work queue taken by a worker and not finished (an expired lease puts them back).',
  herald_queue_dead: 'Items of the work queue that used up their attempts (dead).',
  herald_exporter_queues: 'Work queues exported by the last collection.',
  herald_exporter_queues_omitted: 'Work queues left out of the last collection by maxQueues.',
  herald_exporter_queue_discovery_complete:
    '0 until the SCAN that finds work queues (queueScanCalls per scrape) has completed a full pass: some queues may be missing.',
  herald_exporter_queue_redis_commands:
    'Redis commands the last collection sent for work queues (SCAN, LLEN).',
  herald_exporter_topics: 'Topics exported by the last collection.',
  herald_exporter_topics_omitted: 'Topics left out of the last collection by maxTopics.',
  herald_exporter_redis_commands:
    'Redis commands the last collection sent for topics and groups (work queues: herald_exporter_queue_redis_commands).',
  herald_exporter_collect_duration_seconds: 'Time the last collection took.',
};

type Labels = Readonly<Record<string, string>>;

const MS_PER_SECOND = 1000;

/** Escapes a label value for the text exposition format. */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** Families exposed as counters; every other family is a gauge. */
const COUNTERS = new Set<string>([
  'herald_stream_entries_added_total',
  'herald_group_entries_read_total',
]);

/** Collects samples by family and writes the text exposition format. */
class Exposition {
  private readonly families = new Map<string, string[]>();

  set(name: string, labels: Labels, value: number): void {
    let lines = this.families.get(name);
    if (!lines) {
      lines = [];
      this.families.set(name, lines);
    }
    const l = Object.entries(labels)
      .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
      .join(',');
    lines.push(`${name}${l ? `{${l}}` : ''} ${formatValue(value)}`);
  }

  text(): string {
    let out = '';
    for (const [name, lines] of this.families) {
      out += `# HELP ${name} ${HELP[name] ?? name}\n# TYPE ${name} ${COUNTERS.has(name) ? 'counter' : 'gauge'}\n${lines.join('\n')}\n`;
    }
    return out;
  }
}

export interface ExporterOptions {
  readonly conn: RedisConnection;
  /** Default 'herald'. */
  readonly prefix?: string;
  /** A collection is reused for this long. Default 2000 ms. */
  readonly cacheMs?: number;
  /** Topics exported, the first by name. Default 500. */
  readonly maxTopics?: number;
  /** Consumers shown per group (the most idle). Default 10. */
  readonly maxConsumersPerGroup?: number;
  /** MEMORY USAGE SAMPLES. Default 5. */
  readonly memorySamples?: number;
  /** Capacity threshold for herald_capacity_ok (as the capacity guard's). Default 0.9. */
  readonly threshold?: number;
  /** Per-command timeout of a collection. Default 5000 ms. */
  readonly timeoutMs?: number;
  /** Work queues always exported, whether the SCAN finds them or not. */
  readonly queues?: readonly string[];
  /** Work queues exported at most, the first by name. Default 500. */
  readonly maxQueues?: number;
  /** SCAN calls per primary to find work queues (about 1000 keys each). Default 100. */
  readonly queueScanCalls?: number;
  /** Where failed collections are logged. */
  readonly logger?: OpsLogger;
}

export interface Exporter {
  /** The exposition text (cached for cacheMs). Never rejects: when Redis cannot be read, herald_redis_up is 0. */
  metrics(): Promise<string>;
  /** The last snapshot read, if any. */
  lastSnapshot(): Snapshot | undefined;
  readonly contentType: string;
}

/** Writes a snapshot as exposition text. */
export function formatSnapshot(
  s: Snapshot,
  options: { threshold: number; maxConsumersPerGroup: number; durationSeconds: number },
  queues?: QueuesSnapshot,
): string {
  const e = new Exposition();
  const M = EXPORTER_METRICS;
  e.set(M.redisUp, {}, 1);
  e.set(M.memoryUsed, {}, s.memory.usedBytes);
  e.set(M.memoryMax, {}, s.memory.maxBytes);
  const ok = s.memory.maxBytes === 0 || s.memory.usedBytes / s.memory.maxBytes < options.threshold;
  e.set(M.capacityOk, {}, ok ? 1 : 0);
  e.set(M.capacityThreshold, {}, options.threshold);
  for (const t of s.topics) e.set(M.topicPartitions, { topic: t.name }, t.partitions);
  for (const t of s.topics) {
    for (const p of t.partitionInfo)
      e.set(M.streamLength, { topic: t.name, partition: String(p.partition) }, p.length);
  }
  for (const t of s.topics) {
    for (const p of t.partitionInfo) {
      e.set(M.streamMemory, { topic: t.name, partition: String(p.partition) }, p.memoryBytes ?? 0);
    }
  }
  for (const t of s.topics) {
    for (const p of t.partitionInfo) {
      if (p.entriesAdded !== null)
        e.set(
          M.streamEntriesAdded,
          { topic: t.name, partition: String(p.partition) },
          p.entriesAdded,
        );
    }
  }
  for (const t of s.topics) {
    for (const p of t.partitionInfo) {
      e.set(M.deadLetters, { topic: t.name, partition: String(p.partition) }, p.deadLetters);
    }
  }
  const perPartition = (
    name: string,
    value: (p: Snapshot['groups'][number]['partitions'][number]) => number | null,
  ): void => {
    for (const g of s.groups) {
      for (const p of g.partitions) {
        const v = value(p);
        if (v !== null)
          e.set(name, { topic: g.topic, partition: String(p.partition), group: g.group }, v);
      }
    }
  };
  // Redis cannot always tell the lag (entries deleted in the middle of the stream): no sample then.
  perPartition(M.groupLag, (p) => p.lag);
  perPartition(M.groupLagAtLeast, (p) => (p.lagAtLeast ? 1 : 0));
  perPartition(M.groupEntriesRead, (p) =>
    p.lag === null || p.lagAtLeast || p.entriesAdded === null ? null : p.entriesAdded - p.lag,
  );
  perPartition(M.groupSecondsSinceProgress, (p) => p.secondsSinceProgress);
  perPartition(M.groupPending, (p) => p.pending);
  perPartition(M.groupOldestPendingAge, (p) => p.oldestPendingAgeSeconds ?? 0);
  perPartition(M.groupConsumers, (p) => p.consumers.length);
  for (const g of s.groups) {
    if (g.lag !== null) e.set(M.groupTopicLag, { topic: g.topic, group: g.group }, g.lag);
  }
  for (const g of s.groups) {
    if (g.lag !== null)
      e.set(M.groupTopicLagAtLeast, { topic: g.topic, group: g.group }, g.lagAtLeast ? 1 : 0);
  }
  const ownership = (
    name: string,
    value: (o: Snapshot['groups'][number]['ownership'][number]) => number,
    withOwner = false,
  ): void => {
    for (const g of s.groups) {
      for (const o of g.ownership) {
        const labels = { topic: g.topic, group: g.group, partition: String(o.partition) };
        e.set(name, withOwner ? { ...labels, owner: o.owner ?? '' } : labels, value(o));
      }
    }
  };
  ownership(M.partitionOwned, (o) => (o.owner === undefined ? 0 : 1), true);
  ownership(M.partitionEpoch, (o) => o.epoch);
  ownership(M.partitionLease, (o) => (o.leaseLeftMs ?? 0) / MS_PER_SECOND);
  const shown = s.groups.map((g) => ({
    g,
    consumers: g.consumers.slice(0, options.maxConsumersPerGroup),
  }));
  for (const { g, consumers } of shown) {
    for (const c of consumers)
      e.set(M.consumerIdle, { topic: g.topic, group: g.group, consumer: c.name }, c.idleSeconds);
  }
  for (const { g, consumers } of shown) {
    for (const c of consumers)
      e.set(M.consumerPending, { topic: g.topic, group: g.group, consumer: c.name }, c.pending);
  }
  if (queues) {
    for (const q of queues.queues) e.set(M.queuePending, { queue: q.name }, q.pending);
    for (const q of queues.queues) e.set(M.queueProcessing, { queue: q.name }, q.processing);
    for (const q of queues.queues) e.set(M.queueDead, { queue: q.name }, q.dead);
    e.set(M.exporterQueues, {}, queues.queues.length);
    e.set(M.exporterQueuesOmitted, {}, queues.omitted);
    e.set(M.exporterQueuesComplete, {}, queues.complete ? 1 : 0);
    e.set(M.exporterQueueCommands, {}, queues.commands);
  }
  e.set(M.exporterTopics, {}, s.topics.length);
  e.set(M.exporterTopicsOmitted, {}, s.omittedTopics);
  e.set(M.exporterCommands, {}, s.commands);
  e.set(M.exporterDuration, {}, options.durationSeconds);
  return e.text();
}

function downText(durationSeconds: number): string {
  const e = new Exposition();
  e.set(EXPORTER_METRICS.redisUp, {}, 0);
  e.set(EXPORTER_METRICS.exporterDuration, {}, durationSeconds);
  return e.text();
}

/** An exporter of Herald's state in Redis, for `/metrics`. */
export function createExporter(options: ExporterOptions): Exporter {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const cacheMs = options.cacheMs ?? 2000;
  const format = {
    threshold: options.threshold ?? 0.9,
    maxConsumersPerGroup: options.maxConsumersPerGroup ?? 10,
  };
  let cached: { text: string; at: number } | undefined;
  let collecting: Promise<string> | undefined;
  let last: Snapshot | undefined;
  // Kept across collections: a large keyspace is scanned a bounded slice per scrape.
  const queueFinder = new QueueFinder(options.conn, prefix, {
    ...(options.queueScanCalls !== undefined ? { maxScanCalls: options.queueScanCalls } : {}),
  });

  const collect = async (): Promise<string> => {
    const t0 = performance.now();
    try {
      const timeoutMs = options.timeoutMs ?? 5000;
      const [s, queues] = await Promise.all([
        snapshot(options.conn, prefix, {
          maxTopics: options.maxTopics ?? 500,
          memorySamples: options.memorySamples ?? 5,
          timeoutMs,
        }),
        queuesSnapshot(
          options.conn,
          prefix,
          {
            ...(options.queues !== undefined ? { queues: options.queues } : {}),
            ...(options.maxQueues !== undefined ? { maxQueues: options.maxQueues } : {}),
            timeoutMs,
          },
          queueFinder,
        ),
      ]);
      last = s;
      const durationSeconds = (performance.now() - t0) / 1000;
      return formatSnapshot(s, { ...format, durationSeconds }, queues);
    } catch (e) {
      opsLogger(options.logger).warn({ err: e }, 'herald exporter: could not read Redis');
      return downText((performance.now() - t0) / 1000);
    }
  };

  return {
    contentType: METRICS_CONTENT_TYPE,
    lastSnapshot: () => last,
    metrics() {
      if (cached && performance.now() - cached.at < cacheMs) return Promise.resolve(cached.text);
      collecting ??= collect()
        .then((text) => {
          cached = { text, at: performance.now() };
          return text;
        })
        .finally(() => (collecting = undefined));
      return collecting;
    },
  };
}

/**
 * A node:http request handler answering with the exporter's metrics, for
 * mounting on any server (the HTTP gateway, `serveExporter`).
 */
export function metricsHandler(
  exporter: Exporter,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    void exporter.metrics().then((text) => {
      res.writeHead(200, { 'content-type': exporter.contentType, 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    });
  };
}

export interface ServeExporterOptions {
  readonly exporter: Exporter;
  /** 0 picks a free port. */
  readonly port: number;
  /** Default '127.0.0.1'; '0.0.0.0' to be scraped from other machines. */
  readonly host?: string;
}

export interface ServedExporter {
  /** Base URL, e.g. http://127.0.0.1:9464 (metrics at `${url}/metrics`). */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Serves `/metrics` and `/healthz` over HTTP. */
export async function serveExporter(options: ServeExporterOptions): Promise<ServedExporter> {
  const handle = metricsHandler(options.exporter);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') return handle(req, res);
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('ok\n');
      return;
    }
    res
      .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      .end('not found: try /metrics\n');
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        server.closeAllConnections();
      }),
  };
}
