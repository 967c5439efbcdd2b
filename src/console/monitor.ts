/**
 * The console's view of Redis, sampled on a timer: the inspection snapshot
 * (topics, groups, memory), rates in and out from two samples, stall marks,
 * a few minutes of lag history per group, work queues, and every so often the
 * checks `herald doctor` runs on persistence, memory and replicas. Live pages
 * subscribe to it; every sample is one fixed set of round trips.
 */
import type { CheckResult } from '../cli/doctor/check.ts';
import { headroomCheck, memoryPolicyCheck } from '../cli/doctor/memory.ts';
import { persistenceCheck } from '../cli/doctor/persistence.ts';
import { readConfig, readInfo } from '../cli/doctor/redis-state.ts';
import { replicasCheck } from '../cli/doctor/replicas.ts';
import type { HeraldLogger } from '../core/logger.ts';
import { capacityVerdict, type CapacityVerdict } from '../ops/capacity.ts';
import { sendAll, snapshot, type GroupInfo, type Snapshot } from '../ops/inspect.ts';
import { listQueueNames, queueCounts, type QueueInfo } from '../ops/queue-admin.ts';
import type { RedisConnection } from '../redis/connection.ts';
import { toMap } from '../redis/replies.ts';
import { StallTracker } from './stall.ts';

export interface MonitorOptions {
  readonly conn: RedisConnection;
  readonly prefix: string;
  readonly logger: HeraldLogger;
  /** Time between samples. Default 2000 ms. */
  readonly sampleMs?: number;
  /** A group with work and no progress for this long is stalled. Default 60 s. */
  readonly stallAfterMs?: number;
  /** Lag history kept per group. Default 10 minutes. */
  readonly historyMs?: number;
  /** Time between two runs of the doctor's checks. Default 30 s. */
  readonly checksEveryMs?: number;
  /** Capacity threshold (as the capacity guard's). Default 0.9. */
  readonly threshold?: number;
}

export const MONITOR_DEFAULTS = {
  sampleMs: 2000,
  stallAfterMs: 60_000,
  historyMs: 10 * 60_000,
  checksEveryMs: 30_000,
  threshold: 0.9,
} as const;

/** As `herald doctor`'s defaults (the group checks, which sample twice, are not run here). */
const DOCTOR_OPTIONS = { sampleMs: 0, stuckAfterMs: 60_000, warnRatio: 0.8, failRatio: 0.9 };

export interface TopicView {
  readonly name: string;
  readonly partitions: number;
  readonly length: number;
  readonly memoryBytes: number | null;
  readonly deadLetters: number;
  /** Events added per second (since the previous sample); null on the first sample. */
  readonly inPerSecond: number | null;
  /** Events read per second by all its groups together. */
  readonly outPerSecond: number | null;
  readonly groups: readonly string[];
}

export interface GroupView extends GroupInfo {
  readonly outPerSecond: number | null;
  readonly stalled: boolean;
  readonly stuckSeconds: number;
  readonly noConsumer: boolean;
}

export interface Overview {
  /** Redis's clock at the sample, ms. */
  readonly time: number;
  readonly redis: {
    readonly up: boolean;
    readonly error?: string;
    readonly usedBytes: number;
    readonly maxBytes: number;
    readonly policy: string;
    readonly capacity: CapacityVerdict | undefined;
    readonly checks: readonly CheckResult[];
  };
  readonly topics: readonly TopicView[];
  readonly groups: readonly GroupView[];
  readonly queues: readonly QueueInfo[];
}

interface Counters {
  readonly at: number;
  readonly added: Map<string, number>;
  readonly read: Map<string, number>;
}

const groupKey = (topic: string, group: string): string => `${topic}\u0000${group}`;

export class Monitor {
  private readonly o: Required<Omit<MonitorOptions, 'conn' | 'prefix' | 'logger'>>;
  private readonly stalls: StallTracker;
  private readonly history = new Map<string, { t: number; lag: number | null }[]>();
  private readonly listeners = new Set<(o: Overview) => void>();
  private previous: Counters | undefined;
  private last: Overview | undefined;
  private checks: { at: number; results: CheckResult[] } = { at: 0, results: [] };
  private queueNames: { at: number; names: string[] } = { at: 0, names: [] };
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<Overview> | undefined;

  constructor(private readonly options: MonitorOptions) {
    this.o = {
      sampleMs: options.sampleMs ?? MONITOR_DEFAULTS.sampleMs,
      stallAfterMs: options.stallAfterMs ?? MONITOR_DEFAULTS.stallAfterMs,
      historyMs: options.historyMs ?? MONITOR_DEFAULTS.historyMs,
      checksEveryMs: options.checksEveryMs ?? MONITOR_DEFAULTS.checksEveryMs,
      threshold: options.threshold ?? MONITOR_DEFAULTS.threshold,
    };
    this.stalls = new StallTracker(this.o.stallAfterMs);
  }

  start(): void {
    const tick = (): void => {
      void this.sample().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.o.sampleMs).unref();
      });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  /** The last sample, or a fresh one when there is none yet. */
  async overview(): Promise<Overview> {
    return this.last ?? (await this.sample());
  }

  /** Calls `fn` with every new sample until the returned function is called. */
  subscribe(fn: (o: Overview) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** A group's lag over the history window, oldest first. */
  lagHistory(topic: string, group: string): { t: number; lag: number | null }[] {
    return [...(this.history.get(groupKey(topic, group)) ?? [])];
  }

  /** Samples now (shared with a sample already under way). */
  sample(): Promise<Overview> {
    this.sampling ??= this.collect()
      .catch((e: unknown): Overview => this.down(e))
      .then((o) => {
        this.last = o;
        for (const fn of this.listeners) fn(o);
        return o;
      })
      .finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  private down(e: unknown): Overview {
    const error = e instanceof Error ? e.message : String(e);
    this.options.logger.warn({ err: e }, 'herald console: could not read Redis');
    const prev = this.last;
    return {
      time: Date.now(),
      redis: {
        up: false,
        error,
        usedBytes: prev?.redis.usedBytes ?? 0,
        maxBytes: prev?.redis.maxBytes ?? 0,
        policy: prev?.redis.policy ?? 'unknown',
        capacity: undefined,
        checks: prev?.redis.checks ?? [],
      },
      topics: prev?.topics ?? [],
      groups: prev?.groups ?? [],
      queues: prev?.queues ?? [],
    };
  }

  /** entries-added of every partition (XINFO STREAM is O(1)), summed per topic. */
  private async entriesAdded(s: Snapshot): Promise<Map<string, number>> {
    const parts = s.topics.flatMap((t) =>
      t.partitionInfo.map((p) => ({ topic: t.name, stream: p.stream })),
    );
    const replies = await sendAll(
      this.options.conn,
      parts.map((p) => ({ args: ['XINFO', 'STREAM', p.stream], key: p.stream })),
    );
    const out = new Map<string, number>();
    parts.forEach((p, i) => {
      const r = replies[i];
      const added = r instanceof Error ? 0 : Number(toMap(r)['entries-added'] ?? 0);
      out.set(p.topic, (out.get(p.topic) ?? 0) + added);
    });
    return out;
  }

  /** Queue counts every sample; the names (a SCAN of the keyspace) only as often as the checks. */
  private async queues(): Promise<QueueInfo[]> {
    const { conn, prefix } = this.options;
    if (Date.now() - this.queueNames.at >= this.o.checksEveryMs) {
      this.queueNames = { at: Date.now(), names: await listQueueNames(conn, prefix) };
    }
    return queueCounts(conn, prefix, this.queueNames.names);
  }

  private async runChecks(): Promise<CheckResult[]> {
    if (Date.now() - this.checks.at < this.o.checksEveryMs) return this.checks.results;
    const [info, config] = await Promise.all([
      readInfo(this.options.conn),
      readConfig(this.options.conn),
    ]);
    const ctx = {
      conn: this.options.conn,
      prefix: this.options.prefix,
      info,
      config,
      options: DOCTOR_OPTIONS,
    };
    const results: CheckResult[] = [];
    for (const check of [persistenceCheck, memoryPolicyCheck, replicasCheck, headroomCheck]) {
      try {
        results.push(...(await check.run(ctx)));
      } catch (e) {
        results.push({
          id: check.id,
          title: check.title,
          verdict: 'FAIL',
          detail: `the check could not run: ${e instanceof Error ? e.message : String(e)}`,
        });
      }
    }
    this.checks = { at: Date.now(), results };
    return results;
  }

  private async collect(): Promise<Overview> {
    const { conn, prefix } = this.options;
    const s = await snapshot(conn, prefix);
    const [added, queues, checks] = await Promise.all([
      this.entriesAdded(s),
      this.queues(),
      this.runChecks(),
    ]);
    const read = new Map<string, number>();
    for (const g of s.groups) {
      const entries = g.partitions.reduce((n, p) => n + (p.entriesRead ?? 0), 0);
      read.set(groupKey(g.topic, g.group), entries);
    }
    const now: Counters = { at: s.time, added, read };
    const prev = this.previous;
    this.previous = now;
    const rate = (before: number | undefined, after: number | undefined): number | null => {
      if (!prev || before === undefined || after === undefined || now.at <= prev.at) return null;
      return Math.max(0, ((after - before) * 1000) / (now.at - prev.at));
    };

    const stalls = this.stalls.update(
      s.groups.map((g) => ({
        key: groupKey(g.topic, g.group),
        signature: `${g.partitions.map((p) => p.lastDeliveredId).join(',')}|${g.pending}`,
        hasWork: (g.lag ?? 0) > 0 || g.pending > 0,
      })),
      Date.now(),
    );
    const groups: GroupView[] = s.groups.map((g) => {
      const key = groupKey(g.topic, g.group);
      const stall = stalls.get(key) ?? { stalled: false, stuckSeconds: 0 };
      this.record(key, s.time, g.lag);
      return {
        ...g,
        outPerSecond: rate(prev?.read.get(key), read.get(key)),
        stalled: stall.stalled,
        stuckSeconds: stall.stuckSeconds,
        noConsumer: g.consumers.length === 0,
      };
    });
    const topics: TopicView[] = s.topics.map((t) => {
      const mine = groups.filter((g) => g.topic === t.name);
      const outs = mine.map((g) => g.outPerSecond);
      return {
        name: t.name,
        partitions: t.partitions,
        length: t.length,
        memoryBytes: t.memoryBytes,
        deadLetters: t.deadLetters,
        inPerSecond: rate(prev?.added.get(t.name), added.get(t.name)),
        outPerSecond:
          outs.length === 0 || outs.some((x) => x === null)
            ? outs.length === 0 && prev
              ? 0
              : null
            : outs.reduce<number>((a, b) => a + (b ?? 0), 0),
        groups: t.groups,
      };
    });
    return {
      time: s.time,
      redis: {
        up: true,
        usedBytes: s.memory.usedBytes,
        maxBytes: s.memory.maxBytes,
        policy: s.memory.policy,
        capacity: capacityVerdict(
          {
            used_memory: String(s.memory.usedBytes),
            maxmemory: String(s.memory.maxBytes),
            maxmemory_policy: s.memory.policy,
          },
          this.o.threshold,
        ),
        checks,
      },
      topics,
      groups,
      queues,
    };
  }

  private record(key: string, t: number, lag: number | null): void {
    let h = this.history.get(key);
    if (!h) this.history.set(key, (h = []));
    h.push({ t, lag });
    while (h.length > 0 && (h[0]?.t ?? t) < t - this.o.historyMs) h.shift();
  }
}
