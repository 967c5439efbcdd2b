/**
 * From measured costs to what N shards would carry. Inputs are CPU time per event: Redis's on
 * the shard that stores the event (each shard is one single-threaded redis-server, so it can
 * use at most one core), and Node's in the producer and consumer processes.
 *
 * Two ways to give N shards N cores:
 * - Redis alone on the N cores (the services run elsewhere): Redis saturates at
 *   N / redis events/s, and the services then need N × (producer + consumer) / redis cores.
 * - Redis and the services sharing the N cores: every event costs redis + producer + consumer
 *   of CPU, so N / (redis + producer + consumer) events/s.
 * Both assume events spread evenly over the shards (partitions well above the shard count).
 */

const MICROS_PER_SECOND = 1_000_000;

export interface CostPerEvent {
  /** Redis CPU µs per event, on the shard storing it. */
  readonly redisMicros: number;
  readonly producerMicros: number;
  readonly consumerMicros: number;
}

export interface ProjectionRow {
  readonly shards: number;
  /** Events/s when each shard saturates its own core (Redis alone on N cores). */
  readonly redisBoundEventsPerSecond: number;
  /** Node cores the producers and consumers need to keep up with that rate. */
  readonly nodeCoresAtRedisBound: number;
  /** Events/s when Redis and the services share the N cores. */
  readonly sharedCoresEventsPerSecond: number;
}

export function project(cost: CostPerEvent, shards: readonly number[]): ProjectionRow[] {
  const node = cost.producerMicros + cost.consumerMicros;
  return shards.map((n) => {
    const redisBound = (n * MICROS_PER_SECOND) / cost.redisMicros;
    return {
      shards: n,
      redisBoundEventsPerSecond: redisBound,
      nodeCoresAtRedisBound: (redisBound * node) / MICROS_PER_SECOND,
      sharedCoresEventsPerSecond: (n * MICROS_PER_SECOND) / (cost.redisMicros + node),
    };
  });
}

/** Node cores needed per Redis core: above 1, the services' CPU runs out before Redis's. */
export function nodeCoresPerRedisCore(cost: CostPerEvent): number {
  return (cost.producerMicros + cost.consumerMicros) / cost.redisMicros;
}

/** One sentence: which resource runs out first. */
export function firstToRunOut(cost: CostPerEvent): string {
  const k = nodeCoresPerRedisCore(cost);
  const ratio = k.toFixed(1);
  return k > 1
    ? `Node runs out first: keeping one Redis shard busy takes ${ratio} cores of producers and consumers, so on shared cores Node gets ${Math.round((100 * k) / (1 + k))}% of the CPU and Redis shards stay below one core each; add service instances (cores) before shards.`
    : `Redis runs out first: one shard at full core needs only ${ratio} Node cores of producers and consumers; add shards before service instances.`;
}
