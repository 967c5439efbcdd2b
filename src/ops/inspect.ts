/**
 * Read-only queries over Herald's topics, shared by the exporter and the CLI
 * (`herald topics`, `herald groups`). Every query is a fixed number of round
 * trips whatever the number of topics: each round sends all its commands at
 * once (one per partition, or per partition and group), each routed by its own
 * key so the same code works on Redis Cluster.
 */
import { NotFoundError } from '../core/errors.ts';
import type { Topic } from '../core/topic.ts';
import type { Args, RedisConnection } from '../redis/connection.ts';
import {
  DEFAULT_PREFIX,
  allPartitionKeys,
  registryKey,
  type PartitionKeys,
} from '../redis/keys.ts';
import { withDeadline } from '../redis/connection.ts';
import { readOwnership, type PartitionOwnership } from '../redis/ownership-read.ts';
import { parseRegistry, topicOfRecord, type TopicRecord } from '../redis/registry.ts';
import { toMap } from '../redis/replies.ts';

// Re-exported: the CLI and tools reach them through the ops module.
export { parseRegistry, topicOfRecord };

// ---- Redis replies ---------------------------------------------------------

/** One command and the key it is routed by. */
interface Command {
  readonly args: Args;
  readonly key?: string | undefined;
}

/** Sends every command in the same tick (one pipeline per node); replies or Errors, in order. */
export async function sendAll(
  conn: RedisConnection,
  commands: readonly Command[],
  timeoutMs?: number,
): Promise<unknown[]> {
  const settled = await Promise.allSettled(
    commands.map((c) => conn.send(c.args, { key: c.key, timeoutMs })),
  );
  return settled.map((s) =>
    s.status === 'fulfilled'
      ? s.value
      : s.reason instanceof Error
        ? s.reason
        : new Error(String(s.reason)),
  );
}

function numberOrNull(v: unknown): number | null {
  if (v === null || v === undefined || v instanceof Error) return null;
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** `INFO` text as a record of its `field:value` lines. */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#'))
      out[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return out;
}

/** The millisecond part of a stream id (`1700000000000-3` → 1700000000000). */
export function idMs(id: string): number {
  const dash = id.indexOf('-');
  return Number(dash < 0 ? id : id.slice(0, dash));
}

/** Orders two stream ids exactly (both parts can exceed 2^53). */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** Redis's clock in ms (stream ids are stamped with it, so ages are measured against it). */
export function timeOfReply(reply: unknown): number | undefined {
  if (!Array.isArray(reply) || reply.length < 2) return undefined;
  return Number(reply[0]) * 1000 + Math.floor(Number(reply[1]) / 1000);
}

// ---- topics ----------------------------------------------------------------

/** Every topic recorded in the registry, by name. */
export async function readTopicRecords(
  conn: RedisConnection,
  prefix = DEFAULT_PREFIX,
): Promise<TopicRecord[]> {
  return parseRegistry(
    await conn.send(['HGETALL', registryKey(prefix)], { key: registryKey(prefix) }),
  );
}

/** What `trimTopic`, `groupStats`… accept: a declaration, a registry record, or a name to look up. */
export type TopicRef = Topic<unknown> | TopicRecord | string;

/** Resolves a topic reference; a name is looked up in the registry (NotFoundError when absent). */
export async function resolveTopic(
  conn: RedisConnection,
  prefix: string,
  ref: TopicRef,
): Promise<Topic<unknown>> {
  if (typeof ref !== 'string') return 'dedupeWindowMs' in ref ? ref : topicOfRecord(ref);
  const raw = await conn.send<unknown>(['HGET', registryKey(prefix), ref], {
    key: registryKey(prefix),
  });
  if (typeof raw !== 'string') {
    throw new NotFoundError(
      `topic '${ref}' is not known under prefix '${prefix}' (nothing was ever published to it)`,
    );
  }
  return topicOfRecord(JSON.parse(raw) as TopicRecord);
}

export interface PartitionInfo {
  readonly partition: number;
  readonly stream: string;
  /** Entries in the stream (XLEN). */
  readonly length: number;
  /** Entries ever added to the stream (XINFO STREAM entries-added). */
  readonly entriesAdded: number | null;
  /** MEMORY USAGE of the stream (sampled), when asked for; null when the stream does not exist. */
  readonly memoryBytes: number | null;
  /** Entries in the partition's dead-letter stream. */
  readonly deadLetters: number;
  /** Consumer groups on this partition. */
  readonly groups: readonly string[];
}

export interface TopicInfo {
  readonly name: string;
  readonly partitions: number;
  readonly codec: Topic['codec'];
  readonly streamKey: string | undefined;
  /** Sum over partitions. */
  readonly length: number;
  /** Sum over partitions; null when memory was not measured. */
  readonly memoryBytes: number | null;
  readonly deadLetters: number;
  /** Groups found on any partition, by name. */
  readonly groups: readonly string[];
  readonly partitionInfo: readonly PartitionInfo[];
}

export interface ListTopicsOptions {
  /** Measure each stream with MEMORY USAGE (costs a little per partition). Default true. */
  readonly memory?: boolean;
  /** MEMORY USAGE's SAMPLES: stream nodes measured to estimate the whole. Default 5. */
  readonly memorySamples?: number;
  /** Only the first N topics by name. Default: all. */
  readonly maxTopics?: number;
}

interface GroupRow {
  readonly name: string;
  readonly consumers: number;
  readonly pending: number;
  readonly lastDeliveredId: string;
  readonly entriesRead: number | null;
  readonly lag: number | null;
}

function parseGroups(reply: unknown): GroupRow[] {
  if (!Array.isArray(reply)) return []; // ERR no such key: the stream does not exist yet
  return reply.map((row) => {
    const m = toMap(row);
    return {
      name: String(m.name),
      consumers: numberOrNull(m.consumers) ?? 0,
      pending: numberOrNull(m.pending) ?? 0,
      lastDeliveredId: typeof m['last-delivered-id'] === 'string' ? m['last-delivered-id'] : '0-0',
      entriesRead: numberOrNull(m['entries-read']),
      lag: numberOrNull(m.lag),
    };
  });
}

interface PartitionRead {
  readonly keys: PartitionKeys;
  readonly length: number;
  /** Entries ever added to the stream (XINFO STREAM entries-added; survives restarts). */
  readonly entriesAdded: number | null;
  /** The newest id the stream ever generated ('0-0' when the stream does not exist). */
  readonly lastGeneratedId: string;
  readonly memoryBytes: number | null;
  readonly deadLetters: number;
  readonly groups: GroupRow[];
}

/** XINFO STREAM's entries-added and last-generated-id; zero values when the stream does not exist. */
function parseStreamInfo(reply: unknown): {
  entriesAdded: number | null;
  lastGeneratedId: string;
} {
  if (reply === null || reply === undefined || reply instanceof Error)
    return { entriesAdded: 0, lastGeneratedId: '0-0' };
  const m = toMap(reply);
  return {
    // Redis 6.2 does not count entries added: null there.
    entriesAdded: numberOrNull(m['entries-added']),
    lastGeneratedId: typeof m['last-generated-id'] === 'string' ? m['last-generated-id'] : '0-0',
  };
}

/**
 * One round trip: length, dead letters, groups, stream counters and (optionally)
 * memory of every partition. XINFO GROUPS goes before XINFO STREAM so that the
 * stream's last id is never older than what a group was delivered.
 */
async function readPartitions(
  conn: RedisConnection,
  parts: readonly PartitionKeys[],
  memory: { readonly samples: number } | undefined,
  timeoutMs?: number,
): Promise<PartitionRead[]> {
  const perPart = memory ? 5 : 4;
  const commands: Command[] = [];
  for (const p of parts) {
    commands.push(
      { args: ['XLEN', p.stream], key: p.stream },
      { args: ['XLEN', p.dlq], key: p.dlq },
      { args: ['XINFO', 'GROUPS', p.stream], key: p.stream },
      { args: ['XINFO', 'STREAM', p.stream], key: p.stream },
    );
    if (memory)
      commands.push({
        args: ['MEMORY', 'USAGE', p.stream, 'SAMPLES', String(memory.samples)],
        key: p.stream,
      });
  }
  const replies = await sendAll(conn, commands, timeoutMs);
  return parts.map((keys, i) => {
    const at = i * perPart;
    const length = replies[at];
    if (length instanceof Error) throw length; // Redis is down: nothing else would answer either
    return {
      keys,
      length: numberOrNull(length) ?? 0,
      deadLetters: numberOrNull(replies[at + 1]) ?? 0,
      groups: parseGroups(replies[at + 2]),
      ...parseStreamInfo(replies[at + 3]),
      memoryBytes: memory ? numberOrNull(replies[at + 4]) : null,
    };
  });
}

function summarize(
  topic: Topic<unknown>,
  reads: readonly PartitionRead[],
  measured: boolean,
): TopicInfo {
  const groups = new Set<string>();
  let length = 0;
  let memoryBytes = 0;
  let deadLetters = 0;
  const partitionInfo = reads.map((r) => {
    for (const g of r.groups) groups.add(g.name);
    length += r.length;
    memoryBytes += r.memoryBytes ?? 0;
    deadLetters += r.deadLetters;
    return {
      partition: r.keys.partition,
      stream: r.keys.stream,
      length: r.length,
      entriesAdded: r.entriesAdded,
      memoryBytes: r.memoryBytes,
      deadLetters: r.deadLetters,
      groups: r.groups.map((g) => g.name),
    };
  });
  return {
    name: topic.name,
    partitions: topic.partitions,
    codec: topic.codec,
    streamKey: topic.streamKey,
    length,
    memoryBytes: measured ? memoryBytes : null,
    deadLetters,
    groups: [...groups].sort(),
    partitionInfo,
  };
}

/** Topics in the registry with their partitions, lengths, memory, dead letters and groups. Two round trips. */
export async function listTopics(
  conn: RedisConnection,
  prefix = DEFAULT_PREFIX,
  options: ListTopicsOptions = {},
): Promise<TopicInfo[]> {
  let records = await readTopicRecords(conn, prefix);
  if (options.maxTopics !== undefined) records = records.slice(0, options.maxTopics);
  const topics = records.map(topicOfRecord);
  const measured = options.memory ?? true;
  const reads = await readPartitions(
    conn,
    topics.flatMap((t) => allPartitionKeys(prefix, t)),
    measured ? { samples: options.memorySamples ?? 5 } : undefined,
  );
  let at = 0;
  return topics.map((t) => {
    const mine = reads.slice(at, at + t.partitions);
    at += t.partitions;
    return summarize(t, mine, measured);
  });
}

// ---- groups ----------------------------------------------------------------

export interface ConsumerInfo {
  readonly name: string;
  /** Events this consumer holds (delivered, not yet acknowledged). */
  readonly pending: number;
  /** Seconds since the consumer last read or claimed (the smallest over partitions). */
  readonly idleSeconds: number;
}

/**
 * Unread events counted per (partition, group) at most: beyond it the lag is
 * reported as "at least" this many (unless Redis's own figure is larger, which
 * the count cannot disprove). Bounds the work of one inspection.
 */
export const DEFAULT_LAG_COUNT_LIMIT = 1000;

export interface GroupPartitionInfo {
  readonly partition: number;
  readonly stream: string;
  /**
   * Entries not yet delivered to the group. Counted by Herald (XRANGE after the
   * last delivered id, up to the count limit) rather than taken from XINFO
   * GROUPS, whose figure Redis 7.0 gets wrong after reloading its AOF; null
   * only when neither can tell.
   */
  readonly lag: number | null;
  /** True when `lag` is a lower bound: more unread events than the count limit. */
  readonly lagAtLeast: boolean;
  /** XINFO GROUPS `lag`, as Redis reports it (null when Redis cannot tell). */
  readonly redisLag: number | null;
  /** Redis's `lag` disagrees with the unread events counted (see `lag`). */
  readonly redisLagWrong: boolean;
  /** Delivered, not yet acknowledged. */
  readonly pending: number;
  readonly lastDeliveredId: string;
  /** XINFO GROUPS `entries-read`, as Redis reports it. */
  readonly entriesRead: number | null;
  /** Entries ever added to the partition's stream (XINFO STREAM `entries-added`). */
  readonly entriesAdded: number | null;
  /** The first event not yet delivered to the group; null when none. */
  readonly firstUnreadId: string | null;
  /** Age of the first unread event (since it was published); null when none. */
  readonly oldestUnreadAgeSeconds: number | null;
  readonly oldestPendingId: string | null;
  /** Age of the oldest pending event (since it was published); null when nothing is pending. */
  readonly oldestPendingAgeSeconds: number | null;
  /**
   * How long the group has made no progress on this partition while events
   * wait (unread or pending): the age of the event waiting longest, capped by
   * the idle time of its most recently active consumer (reading, claiming and
   * heartbeats reset it). 0 when nothing waits.
   */
  readonly secondsSinceProgress: number;
  readonly consumers: readonly ConsumerInfo[];
}

export interface GroupInfo {
  readonly topic: string;
  readonly group: string;
  /** Sum over partitions; null when some partition's lag is unknown. */
  readonly lag: number | null;
  /** True when some partition's lag is a lower bound. */
  readonly lagAtLeast: boolean;
  /** Partitions where Redis's own `lag` was wrong (Herald's count is used instead). */
  readonly redisLagWrong: readonly number[];
  readonly pending: number;
  /** The largest over partitions; null when nothing is pending. */
  readonly oldestPendingAgeSeconds: number | null;
  /** The largest over partitions; null when nothing is unread. */
  readonly oldestUnreadAgeSeconds: number | null;
  /** The largest over partitions (see GroupPartitionInfo). */
  readonly secondsSinceProgress: number;
  /** Consumers of any partition (pending summed, idle the smallest), most idle first. */
  readonly consumers: readonly ConsumerInfo[];
  readonly partitions: readonly GroupPartitionInfo[];
  /**
   * True for an ordered group (`ordered: true`): its partitions have ownership keys (an owner
   * or a fencing epoch). Unordered groups have none.
   */
  readonly ordered: boolean;
  /** Per partition of the topic, who owns it, its epoch and lease left; empty when not ordered. */
  readonly ownership: readonly PartitionOwnership[];
}

export interface GroupStatsOptions {
  /** Now, in ms, to measure ages against. Default: Redis's clock (TIME). */
  readonly now?: number;
  /** Unread events counted per (partition, group) at most. Default DEFAULT_LAG_COUNT_LIMIT. */
  readonly lagCountLimit?: number;
}

interface GroupTarget {
  readonly topic: Topic<unknown>;
  readonly read: PartitionRead;
  readonly row: GroupRow;
}

/** What a bounded count of the events after the last delivered id found. */
export interface UnreadCount {
  /** Entries found, at most the limit. */
  readonly count: number;
  readonly limit: number;
  readonly firstId: string | null;
}

/**
 * The lag to report, from Redis's figure and Herald's count. Redis's figure
 * (entries-added − entries-read) is trusted only where the count agrees with it:
 * Redis 7.0 restores a group's entries-read from the AOF as it was when the
 * group was created (reads are replayed as XCLAIMs, which move the last
 * delivered id but not entries-read), so its lag stays too high for good.
 * Only a figure above the count is called wrong: entries added between
 * XINFO GROUPS and the count make the count the larger one, legitimately.
 * `unread` is undefined when the group was delivered the stream's last id.
 */
export function resolveLag(
  redisLag: number | null,
  unread: UnreadCount | undefined,
): { lag: number | null; lagAtLeast: boolean; redisLagWrong: boolean } {
  if (unread === undefined)
    return { lag: 0, lagAtLeast: false, redisLagWrong: redisLag !== null && redisLag > 0 };
  if (unread.count < unread.limit) {
    return {
      lag: unread.count,
      lagAtLeast: false,
      redisLagWrong: redisLag !== null && redisLag > unread.count,
    };
  }
  // The count stopped at its limit: Redis's figure stands unless it is below what was counted.
  if (redisLag !== null && redisLag >= unread.limit)
    return { lag: redisLag, lagAtLeast: false, redisLagWrong: false };
  return { lag: unread.limit, lagAtLeast: true, redisLagWrong: false };
}

/** How long events have waited without progress (see GroupPartitionInfo.secondsSinceProgress). */
export function progressStall(
  waiting: readonly (number | null)[],
  consumers: readonly ConsumerInfo[],
): number {
  const ages = waiting.filter((a): a is number => a !== null);
  if (ages.length === 0) return 0;
  const oldest = Math.max(...ages);
  const lastActive = Math.min(Infinity, ...consumers.map((c) => c.idleSeconds));
  return Math.min(oldest, lastActive);
}

function parseConsumers(rows: unknown): ConsumerInfo[] {
  return Array.isArray(rows)
    ? rows.map((row) => {
        const m = toMap(row);
        return {
          name: String(m.name),
          pending: numberOrNull(m.pending) ?? 0,
          idleSeconds: (numberOrNull(m.idle) ?? 0) / 1000,
        };
      })
    : [];
}

/**
 * One round trip: XPENDING summary and XINFO CONSUMERS of every (partition,
 * group), and for a group behind the stream's last id an XRANGE counting its
 * unread events up to the limit (bounded by the last id seen, so that events
 * added meanwhile are not counted).
 */
async function readGroupDetails(
  conn: RedisConnection,
  targets: readonly GroupTarget[],
  now: number,
  limit: number,
  timeoutMs?: number,
): Promise<{ details: Map<GroupTarget, GroupPartitionInfo>; commands: number }> {
  const commands: Command[] = [];
  const at: { pending: number; consumers: number; unread: number | undefined }[] = [];
  for (const t of targets) {
    const stream = t.read.keys.stream;
    const behind = compareStreamIds(t.row.lastDeliveredId, t.read.lastGeneratedId) < 0;
    at.push({
      pending: commands.length,
      consumers: commands.length + 1,
      unread: behind ? commands.length + 2 : undefined,
    });
    commands.push(
      { args: ['XPENDING', stream, t.row.name], key: stream },
      { args: ['XINFO', 'CONSUMERS', stream, t.row.name], key: stream },
    );
    if (behind) {
      commands.push({
        args: [
          'XRANGE',
          stream,
          `(${t.row.lastDeliveredId}`,
          t.read.lastGeneratedId,
          'COUNT',
          String(limit),
        ],
        key: stream,
      });
    }
  }
  const replies = await sendAll(conn, commands, timeoutMs);
  const details = new Map<GroupTarget, GroupPartitionInfo>();
  targets.forEach((t, i) => {
    const where = at[i] as (typeof at)[number];
    const summary = replies[where.pending];
    const oldest = Array.isArray(summary) && typeof summary[1] === 'string' ? summary[1] : null;
    const consumers = parseConsumers(replies[where.consumers]);
    const range = where.unread === undefined ? undefined : replies[where.unread];
    if (range instanceof Error) throw range;
    const entries = Array.isArray(range) ? (range as unknown[]) : [];
    const first = entries[0];
    const firstUnreadId = Array.isArray(first) ? String(first[0]) : null;
    const unread =
      where.unread === undefined
        ? undefined
        : { count: entries.length, limit, firstId: firstUnreadId };
    const lag = resolveLag(t.row.lag, unread);
    const ageOf = (id: string | null): number | null =>
      id === null ? null : Math.max(0, (now - idMs(id)) / 1000);
    const pending = Array.isArray(summary)
      ? (numberOrNull(summary[0]) ?? t.row.pending)
      : t.row.pending;
    const oldestUnreadAgeSeconds = ageOf(firstUnreadId);
    const oldestPendingAgeSeconds = pending > 0 ? ageOf(oldest) : null;
    details.set(t, {
      partition: t.read.keys.partition,
      stream: t.read.keys.stream,
      ...lag,
      redisLag: t.row.lag,
      pending,
      lastDeliveredId: t.row.lastDeliveredId,
      entriesRead: t.row.entriesRead,
      entriesAdded: t.read.entriesAdded,
      firstUnreadId,
      oldestUnreadAgeSeconds,
      oldestPendingId: oldest,
      oldestPendingAgeSeconds,
      secondsSinceProgress: progressStall(
        [oldestUnreadAgeSeconds, oldestPendingAgeSeconds],
        consumers,
      ),
      consumers,
    });
  });
  return { details, commands: commands.length };
}

function mergeConsumers(lists: readonly (readonly ConsumerInfo[])[]): ConsumerInfo[] {
  const byName = new Map<string, { pending: number; idleSeconds: number }>();
  for (const list of lists) {
    for (const c of list) {
      const prev = byName.get(c.name);
      byName.set(
        c.name,
        prev
          ? {
              pending: prev.pending + c.pending,
              idleSeconds: Math.min(prev.idleSeconds, c.idleSeconds),
            }
          : { pending: c.pending, idleSeconds: c.idleSeconds },
      );
    }
  }
  return [...byName]
    .map(([name, v]) => ({ name, ...v }))
    .sort((a, b) => b.idleSeconds - a.idleSeconds || a.name.localeCompare(b.name));
}

const maxOf = (values: readonly (number | null)[]): number | null =>
  values.reduce<number | null>((m, v) => (v === null ? m : Math.max(m ?? v, v)), null);

/** Builds one GroupInfo per group from its per-partition details. */
function aggregate(
  topic: string,
  group: string,
  partitions: readonly GroupPartitionInfo[],
  ownership: readonly PartitionOwnership[],
): GroupInfo {
  const ordered = ownership.some((p) => p.epoch > 0 || p.owner !== undefined);
  let lag: number | null = 0;
  let pending = 0;
  for (const p of partitions) {
    lag = lag === null || p.lag === null ? null : lag + p.lag;
    pending += p.pending;
  }
  return {
    topic,
    group,
    lag,
    lagAtLeast: partitions.some((p) => p.lagAtLeast),
    redisLagWrong: partitions.filter((p) => p.redisLagWrong).map((p) => p.partition),
    pending,
    oldestPendingAgeSeconds: maxOf(partitions.map((p) => p.oldestPendingAgeSeconds)),
    oldestUnreadAgeSeconds: maxOf(partitions.map((p) => p.oldestUnreadAgeSeconds)),
    secondsSinceProgress: maxOf(partitions.map((p) => p.secondsSinceProgress)) ?? 0,
    consumers: mergeConsumers(partitions.map((p) => p.consumers)),
    partitions,
    ordered,
    ownership: ordered ? ownership : [],
  };
}

/** Ownership keys read per partition of an ordered group (owner, its lease, the epoch). */
const OWNERSHIP_COMMANDS_PER_PARTITION = 3;

/**
 * The ownership of every (topic, group): one pipeline per group, all sent in the same tick
 * (so in the round trip of the group details). Unordered groups read back empty.
 */
async function readOwnerships(
  conn: RedisConnection,
  prefix: string,
  groups: readonly { readonly topic: Topic<unknown>; readonly group: string }[],
  timeoutMs: number,
): Promise<{ byGroup: Map<string, PartitionOwnership[]>; commands: number }> {
  const byGroup = new Map<string, PartitionOwnership[]>();
  let commands = 0;
  await Promise.all(
    groups.map(async ({ topic, group }) => {
      commands += topic.partitions * OWNERSHIP_COMMANDS_PER_PARTITION;
      const read = await withDeadline(
        readOwnership(conn, prefix, topic, group),
        'read partition ownership',
        timeoutMs,
      );
      byGroup.set(groupId(topic.name, group), read);
    }),
  );
  return { byGroup, commands };
}

const groupId = (topic: string, group: string): string => `${topic}\u0000${group}`;

/** Default per-command timeout of an inspection. */
const DEFAULT_INSPECT_TIMEOUT_MS = 5000;

/** Collects per-group figures for the given partitions' reads. One round trip. */
async function statsOf(
  conn: RedisConnection,
  prefix: string,
  reads: readonly { readonly topic: Topic<unknown>; readonly read: PartitionRead }[],
  now: number,
  limit: number,
  timeoutMs?: number,
): Promise<{ groups: GroupInfo[]; commands: number }> {
  const targets: GroupTarget[] = [];
  for (const { topic, read } of reads)
    for (const row of read.groups) targets.push({ topic, read, row });
  const byGroup = new Map<
    string,
    { topic: Topic<unknown>; group: string; partitions: GroupPartitionInfo[] }
  >();
  for (const t of targets) {
    const id = groupId(t.topic.name, t.row.name);
    if (!byGroup.has(id)) byGroup.set(id, { topic: t.topic, group: t.row.name, partitions: [] });
  }
  const [{ details, commands }, owned] = await Promise.all([
    readGroupDetails(conn, targets, now, limit, timeoutMs),
    readOwnerships(conn, prefix, [...byGroup.values()], timeoutMs ?? DEFAULT_INSPECT_TIMEOUT_MS),
  ]);
  for (const t of targets)
    byGroup
      .get(groupId(t.topic.name, t.row.name))
      ?.partitions.push(details.get(t) as GroupPartitionInfo);
  const groups = [...byGroup.entries()]
    .map(([id, g]) => aggregate(g.topic.name, g.group, g.partitions, owned.byGroup.get(id) ?? []))
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.group.localeCompare(b.group));
  return { groups, commands: commands + owned.commands };
}

/**
 * Every consumer group of a topic: lag, pending, age of the oldest pending
 * event and consumers, per partition and summed. Throws NotFoundError for an
 * unknown topic name. Two or three round trips.
 */
export async function groupStats(
  conn: RedisConnection,
  prefix: string,
  topic: TopicRef,
  options: GroupStatsOptions = {},
): Promise<GroupInfo[]> {
  const t = await resolveTopic(conn, prefix, topic);
  const [reads, now] = await Promise.all([
    readPartitions(conn, allPartitionKeys(prefix, t), undefined),
    options.now ?? redisTime(conn),
  ]);
  const { groups } = await statsOf(
    conn,
    prefix,
    reads.map((read) => ({ topic: t, read })),
    now,
    options.lagCountLimit ?? DEFAULT_LAG_COUNT_LIMIT,
  );
  return groups;
}

/** Every consumer group of every topic in the registry (see groupStats). Three round trips. */
export async function allGroupStats(
  conn: RedisConnection,
  prefix: string,
  options: GroupStatsOptions = {},
): Promise<GroupInfo[]> {
  const [topics, now] = await Promise.all([
    readTopicRecords(conn, prefix).then((records) => records.map(topicOfRecord)),
    options.now ?? redisTime(conn),
  ]);
  const parts = topics.flatMap((t) =>
    allPartitionKeys(prefix, t).map((keys) => ({ topic: t, keys })),
  );
  const reads = await readPartitions(
    conn,
    parts.map((p) => p.keys),
    undefined,
  );
  const { groups } = await statsOf(
    conn,
    prefix,
    reads.map((read, i) => ({ topic: (parts[i] as (typeof parts)[number]).topic, read })),
    now,
    options.lagCountLimit ?? DEFAULT_LAG_COUNT_LIMIT,
  );
  return groups;
}

/** Redis's clock, in ms. */
export async function redisTime(conn: RedisConnection): Promise<number> {
  return timeOfReply(await conn.send(['TIME'])) ?? Date.now();
}

// ---- everything at once (the exporter) -------------------------------------

export interface MemoryInfo {
  readonly usedBytes: number;
  /** 0 when Redis has no maxmemory. */
  readonly maxBytes: number;
  readonly policy: string;
}

/** Memory figures of an `INFO memory` reply (text or parsed). */
export function memoryOfInfo(info: string | Record<string, string>): MemoryInfo {
  const i = typeof info === 'string' ? parseInfo(info) : info;
  return {
    usedBytes: Number(i.used_memory ?? 0),
    maxBytes: Number(i.maxmemory ?? 0),
    policy: i.maxmemory_policy ?? 'unknown',
  };
}

export interface Snapshot {
  /** Redis's clock when the snapshot was taken, in ms. */
  readonly time: number;
  readonly memory: MemoryInfo;
  readonly topics: readonly TopicInfo[];
  readonly groups: readonly GroupInfo[];
  /** Topics left out because of maxTopics. */
  readonly omittedTopics: number;
  /** Redis commands the snapshot cost. */
  readonly commands: number;
}

export interface SnapshotOptions {
  readonly maxTopics?: number;
  /** Unread events counted per (partition, group) at most. Default DEFAULT_LAG_COUNT_LIMIT. */
  readonly lagCountLimit?: number;
  readonly memorySamples?: number;
  /** Per-command timeout. Default 5000 ms. */
  readonly timeoutMs?: number;
}

/**
 * Everything the exporter shows, in three round trips: registry + INFO memory +
 * TIME; then per partition XLEN ×2, XINFO GROUPS, XINFO STREAM, MEMORY USAGE;
 * then per (partition, group) XPENDING summary and XINFO CONSUMERS, an
 * XRANGE of at most `lagCountLimit` entries for a group with unread events, and
 * the ordered-group ownership keys (GET owner, PTTL owner, GET epoch per
 * partition of each group: empty replies for an unordered group).
 */
export async function snapshot(
  conn: RedisConnection,
  prefix = DEFAULT_PREFIX,
  options: SnapshotOptions = {},
): Promise<Snapshot> {
  const timeoutMs = options.timeoutMs ?? 5000;
  const [registry, info, time] = await sendAll(
    conn,
    [
      { args: ['HGETALL', registryKey(prefix)], key: registryKey(prefix) },
      { args: ['INFO', 'memory'] },
      { args: ['TIME'] },
    ],
    timeoutMs,
  );
  for (const r of [registry, info]) if (r instanceof Error) throw r;
  const all = parseRegistry(registry);
  const records = options.maxTopics === undefined ? all : all.slice(0, options.maxTopics);
  const topics = records.map(topicOfRecord);
  const parts = topics.flatMap((t) =>
    allPartitionKeys(prefix, t).map((keys) => ({ topic: t, keys })),
  );
  const reads = await readPartitions(
    conn,
    parts.map((p) => p.keys),
    { samples: options.memorySamples ?? 5 },
    timeoutMs,
  );
  const now = timeOfReply(time) ?? Date.now();
  const withTopic = reads.map((read, i) => ({
    topic: (parts[i] as (typeof parts)[number]).topic,
    read,
  }));
  const { groups, commands } = await statsOf(
    conn,
    prefix,
    withTopic,
    now,
    options.lagCountLimit ?? DEFAULT_LAG_COUNT_LIMIT,
    timeoutMs,
  );
  let at = 0;
  const topicInfo = topics.map((t) => {
    const mine = reads.slice(at, at + t.partitions);
    at += t.partitions;
    return summarize(t, mine, true);
  });
  return {
    time: now,
    memory: memoryOfInfo(String(info)),
    topics: topicInfo,
    groups,
    omittedTopics: all.length - records.length,
    commands: 3 + 5 * reads.length + commands,
  };
}
