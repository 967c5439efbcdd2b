/**
 * What this process does, recorded with prom-client: publishes, publish
 * errors, handler durations and failures, retries, dead letters, reclaims and
 * events trimmed before they were acknowledged; for ordered subscriptions, the
 * partitions this process owns and how ownership changed (assigned, revoked,
 * fenced). Labels are topic, group, error code, reason and change: bounded
 * sets, never event ids, consumer names or partitions.
 *
 * What Redis holds (lag, pending, memory…) is the exporter's job (exporter.ts),
 * which reads it from Redis for every process at once.
 */
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import type { RedisBackend } from '../redis/backend.ts';

/** Handler duration buckets, in seconds: 1 ms to 1 minute. */
export const HANDLER_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** The metric families `instrument` records (histograms add _bucket, _sum and _count samples). */
export const LIBRARY_METRICS = {
  published: 'herald_events_published_total',
  publishErrors: 'herald_publish_errors_total',
  handlerDuration: 'herald_handler_duration_seconds',
  handlerFailures: 'herald_handler_failures_total',
  retries: 'herald_retries_total',
  deadLettered: 'herald_dead_lettered_total',
  reclaimed: 'herald_reclaimed_total',
  trimmedUnacked: 'herald_trimmed_unacked_total',
  ownedPartitions: 'herald_owned_partitions',
  ownershipChanges: 'herald_partition_ownership_changes_total',
} as const;

export interface InstrumentOptions {
  /** Where the metrics are registered. Default: a new Registry (returned). */
  readonly registry?: Registry;
  /** Handler duration histogram buckets, in seconds. */
  readonly buckets?: readonly number[];
}

export interface Instrumentation {
  readonly registry: Registry;
  /** Stops recording (the backend's previous hooks are restored); the registry keeps its values. */
  stop(): void;
}

/** The metric of that name in the registry, or a new one (two backends may share a registry). */
function metric<M extends Metric>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

function counter(registry: Registry, name: string, help: string, labelNames: string[]): Counter {
  return metric(
    registry,
    name,
    () => new Counter({ name, help, labelNames, registers: [registry] }),
  );
}

/**
 * Records the backend's activity in `registry`. Hooks already installed on the
 * backend keep being called.
 */
export function instrument(
  backend: Pick<RedisBackend, 'addHook'>,
  options: InstrumentOptions = {},
): Instrumentation {
  const registry = options.registry ?? new Registry();
  const m = LIBRARY_METRICS;
  const published = counter(registry, m.published, 'Events stored by publishes of this process.', [
    'topic',
  ]);
  const publishErrors = counter(
    registry,
    m.publishErrors,
    'Publishes that failed, by Herald error code.',
    ['topic', 'code'],
  );
  const duration = metric(
    registry,
    m.handlerDuration,
    () =>
      new Histogram({
        name: m.handlerDuration,
        help: 'Time handlers took, successful or not, in seconds.',
        labelNames: ['topic', 'group'],
        buckets: [...(options.buckets ?? HANDLER_BUCKETS)],
        registers: [registry],
      }),
  );
  const failures = counter(registry, m.handlerFailures, 'Handler runs that threw.', [
    'topic',
    'group',
  ]);
  const retries = counter(registry, m.retries, 'Failed events scheduled for another attempt.', [
    'topic',
    'group',
  ]);
  const deadLettered = counter(
    registry,
    m.deadLettered,
    'Events moved to the dead-letter stream.',
    ['topic', 'group', 'reason'],
  );
  const reclaimed = counter(registry, m.reclaimed, 'Events taken over from silent consumers.', [
    'topic',
    'group',
  ]);
  const trimmed = counter(
    registry,
    m.trimmedUnacked,
    'Events removed by trimming before a group acknowledged them (lost to that group).',
    ['topic', 'group'],
  );

  const owned = metric(
    registry,
    m.ownedPartitions,
    () =>
      new Gauge({
        name: m.ownedPartitions,
        help: 'Ordered subscriptions: partitions the instances of this process own now.',
        labelNames: ['topic', 'group'],
        registers: [registry],
      }),
  );
  const ownershipChanges = counter(
    registry,
    m.ownershipChanges,
    'Ordered subscriptions: partitions this process took (assigned), handed over (revoked) or lost, its work rejected by Redis (fenced). Each rebalance moves partitions: assigned counts the take-overs.',
    ['topic', 'group', 'change'],
  );
  // The partitions each consumer of this process owns: the gauge moves only on a real change
  // (a late rejection of an ownership already dropped is a fencing, not one partition less).
  const ownedBy = new Map<string, Set<number>>();

  const removers = [
    backend.addHook('partitionOwnership', (topic, group, consumer, change, partition) => {
      ownershipChanges.inc({ topic, group, change });
      const key = `${topic}\n${group}\n${consumer}`;
      let parts = ownedBy.get(key);
      if (!parts) ownedBy.set(key, (parts = new Set()));
      if (change === 'assigned') {
        if (!parts.has(partition)) owned.inc({ topic, group });
        parts.add(partition);
      } else if (parts.delete(partition)) owned.dec({ topic, group });
    }),
    backend.addHook('handled', (topic, group, seconds, ok) => {
      duration.observe({ topic, group }, seconds);
      if (!ok) failures.inc({ topic, group });
    }),
    backend.addHook('retry', (topic, group) => retries.inc({ topic, group })),
    backend.addHook('deadLettered', (topic, group, reason) =>
      deadLettered.inc({ topic, group, reason }),
    ),
    backend.addHook('reclaimed', (topic, group, count) => reclaimed.inc({ topic, group }, count)),
    backend.addHook('trimmedBeforeAck', (topic, group, count) =>
      trimmed.inc({ topic, group }, count),
    ),
    backend.addHook('published', (topic, count) => published.inc({ topic }, count)),
    backend.addHook('publishFailed', (topic, error) =>
      publishErrors.inc({ topic, code: error.code }),
    ),
  ];

  return {
    registry,
    /** Removes this instrumentation's hooks (and only these). */
    stop() {
      for (const remove of removers) remove();
    },
  };
}
