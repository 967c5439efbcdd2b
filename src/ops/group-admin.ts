/**
 * Changing consumer groups, shared by the CLI (`herald groups reset|delete`),
 * the HTTP gateway and the console: move a group to a position or a time
 * (with a preview of how many events that replays or skips), or delete it.
 *
 * A reset is `XGROUP SETID … ENTRIESREAD n` on every partition, with n computed
 * so that Redis's lag stays exact afterwards (entries added minus entries after
 * the new position). Events the group holds (pending) stay pending: a reset
 * moves where the group reads next, it does not acknowledge or re-deliver held
 * events.
 */
import { NotFoundError } from '../core/errors.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisConnection } from '../redis/connection.ts';
import { allPartitionKeys, type PartitionKeys } from '../redis/keys.ts';
import { toMap } from '../redis/replies.ts';
import { resolveTopic, sendAll, type TopicRef } from './inspect.ts';
import { compareStreamIds, firstIdOf, streamIdBefore, type StreamTarget } from './stream-ids.ts';

/** Entries read per XRANGE page while counting. */
const COUNT_PAGE = 1000;
/** Counting stops here per partition; a preview beyond it is a lower bound. */
export const DEFAULT_COUNT_LIMIT = 200_000;

export interface PartitionResetPlan {
  readonly partition: number;
  readonly stream: string;
  /** The group's last-delivered position now. */
  readonly from: string;
  /** Its last-delivered position after the reset (the group next reads what follows). */
  readonly to: string;
  /** Events the group will read again. */
  readonly replays: number;
  /** Events the group will never read. */
  readonly skips: number;
  /** Events the group holds; they stay pending. */
  readonly pending: number;
  /** False when counting stopped at the limit: replays/skips are lower bounds. */
  readonly exact: boolean;
  /** ENTRIESREAD given to Redis so lag stays exact; null when the count was not exact. */
  readonly entriesRead: number | null;
}

export interface GroupResetPlan {
  readonly topic: string;
  readonly group: string;
  readonly target: StreamTarget;
  readonly partitions: readonly PartitionResetPlan[];
  readonly replays: number;
  readonly skips: number;
  readonly exact: boolean;
}

export interface ResetOptions {
  /** Only this partition. Default: every partition. */
  readonly partition?: number;
  /** Entries counted per partition before the preview becomes a lower bound. */
  readonly countLimit?: number;
}

interface StreamState {
  readonly keys: PartitionKeys;
  readonly lastGeneratedId: string;
  readonly entriesAdded: number;
  readonly group: { lastDeliveredId: string; lag: number | null; pending: number } | undefined;
}

async function readStates(
  conn: RedisConnection,
  parts: readonly PartitionKeys[],
  group: string,
): Promise<StreamState[]> {
  const replies = await sendAll(
    conn,
    parts.flatMap((p) => [
      { args: ['XINFO', 'STREAM', p.stream], key: p.stream },
      { args: ['XINFO', 'GROUPS', p.stream], key: p.stream },
    ]),
  );
  return parts.map((keys, i) => {
    const stream = replies[2 * i];
    const groups = replies[2 * i + 1];
    const s = stream instanceof Error ? {} : toMap(stream);
    const row = Array.isArray(groups)
      ? groups.map(toMap).find((g) => String(g.name) === group)
      : undefined;
    return {
      keys,
      lastGeneratedId: typeof s['last-generated-id'] === 'string' ? s['last-generated-id'] : '0-0',
      entriesAdded: Number(s['entries-added'] ?? 0),
      group: row
        ? {
            lastDeliveredId:
              typeof row['last-delivered-id'] === 'string' ? row['last-delivered-id'] : '0-0',
            lag: row.lag === null || row.lag === undefined ? null : Number(row.lag),
            pending: Number(row.pending ?? 0),
          }
        : undefined,
    };
  });
}

/** Entries with a position after `after` (exclusive), counted up to `limit`. */
export async function countEntriesAfter(
  conn: RedisConnection,
  stream: string,
  after: string,
  limit = DEFAULT_COUNT_LIMIT,
): Promise<{ count: number; exact: boolean }> {
  let count = 0;
  let start = `(${after}`;
  if (after === '0-0') start = '-';
  for (;;) {
    const page = await conn.send<[string, unknown][]>(
      ['XRANGE', stream, start, '+', 'COUNT', String(COUNT_PAGE)],
      { key: stream },
    );
    count += page.length;
    if (page.length < COUNT_PAGE) return { count, exact: true };
    if (count >= limit) return { count, exact: false };
    start = `(${(page[page.length - 1] as [string, unknown])[0]}`;
  }
}

function newLastId(target: StreamTarget, lastGeneratedId: string): string {
  const first = firstIdOf(target);
  if (first === undefined) return lastGeneratedId;
  const before = streamIdBefore(first);
  // Past the end of the stream is the end: Redis would refuse nothing, but the plan would read oddly.
  return compareStreamIds(before, lastGeneratedId) > 0 ? lastGeneratedId : before;
}

async function planPartition(
  conn: RedisConnection,
  state: StreamState,
  target: StreamTarget,
  limit: number,
): Promise<PartitionResetPlan | undefined> {
  const g = state.group;
  if (!g) return undefined;
  const stream = state.keys.stream;
  const to = newLastId(target, state.lastGeneratedId);
  const afterNew = await countEntriesAfter(conn, stream, to, limit);
  const afterOld =
    g.lag !== null
      ? { count: g.lag, exact: true }
      : await countEntriesAfter(conn, stream, g.lastDeliveredId, limit);
  const diff = afterNew.count - afterOld.count;
  return {
    partition: state.keys.partition,
    stream,
    from: g.lastDeliveredId,
    to,
    replays: Math.max(0, diff),
    skips: Math.max(0, -diff),
    pending: g.pending,
    exact: afterNew.exact && afterOld.exact,
    entriesRead: afterNew.exact ? Math.max(0, state.entriesAdded - afterNew.count) : null,
  };
}

async function topicParts(
  conn: RedisConnection,
  prefix: string,
  topicRef: TopicRef,
  partition: number | undefined,
): Promise<{ topic: Topic<unknown>; parts: PartitionKeys[] }> {
  const topic = await resolveTopic(conn, prefix, topicRef);
  const all = allPartitionKeys(prefix, topic);
  if (partition === undefined) return { topic, parts: all };
  const one = all[partition];
  if (!one) {
    throw new NotFoundError(
      `topic '${topic.name}' has no partition ${partition} (it has ${topic.partitions})`,
    );
  }
  return { topic, parts: [one] };
}

/**
 * What resetting `group` to `target` would do, per partition and in total.
 * Writes nothing. NotFoundError when the topic or the group does not exist.
 */
export async function previewGroupReset(
  conn: RedisConnection,
  prefix: string,
  topicRef: TopicRef,
  group: string,
  target: StreamTarget,
  options: ResetOptions = {},
): Promise<GroupResetPlan> {
  const { topic, parts } = await topicParts(conn, prefix, topicRef, options.partition);
  const states = await readStates(conn, parts, group);
  const limit = options.countLimit ?? DEFAULT_COUNT_LIMIT;
  const planned = await Promise.all(states.map((s) => planPartition(conn, s, target, limit)));
  const partitions = planned.filter((p): p is PartitionResetPlan => p !== undefined);
  if (partitions.length === 0) {
    throw new NotFoundError(`topic '${topic.name}' has no consumer group '${group}'`);
  }
  return {
    topic: topic.name,
    group,
    target,
    partitions,
    replays: partitions.reduce((n, p) => n + p.replays, 0),
    skips: partitions.reduce((n, p) => n + p.skips, 0),
    exact: partitions.every((p) => p.exact),
  };
}

/**
 * Resets `group` to `target` on every partition (or one) and returns the plan
 * it carried out. The plan is computed just before; events published between
 * the count and the reset are read by the group as usual.
 */
export async function resetGroup(
  conn: RedisConnection,
  prefix: string,
  topicRef: TopicRef,
  group: string,
  target: StreamTarget,
  options: ResetOptions = {},
): Promise<GroupResetPlan> {
  const plan = await previewGroupReset(conn, prefix, topicRef, group, target, options);
  const replies = await sendAll(
    conn,
    plan.partitions.map((p) => ({
      args: [
        'XGROUP',
        'SETID',
        p.stream,
        group,
        p.to,
        ...(p.entriesRead !== null ? ['ENTRIESREAD', String(p.entriesRead)] : []),
      ],
      key: p.stream,
    })),
  );
  const failed = replies.find((r) => r instanceof Error);
  if (failed) throw failed;
  return plan;
}

export interface GroupDeletion {
  readonly topic: string;
  readonly group: string;
  /** Partitions the group was removed from. */
  readonly partitions: number;
  /** Events the group held, now forgotten (they stay in the stream). */
  readonly pendingDropped: number;
}

/** Deletes `group` from every partition of the topic (XGROUP DESTROY). NotFoundError when it does not exist. */
export async function deleteGroup(
  conn: RedisConnection,
  prefix: string,
  topicRef: TopicRef,
  group: string,
): Promise<GroupDeletion> {
  const { topic, parts } = await topicParts(conn, prefix, topicRef, undefined);
  const states = await readStates(conn, parts, group);
  const present = states.filter((s) => s.group !== undefined);
  if (present.length === 0) {
    throw new NotFoundError(`topic '${topic.name}' has no consumer group '${group}'`);
  }
  const replies = await sendAll(
    conn,
    present.map((s) => ({ args: ['XGROUP', 'DESTROY', s.keys.stream, group], key: s.keys.stream })),
  );
  const failed = replies.find((r) => r instanceof Error);
  if (failed) throw failed;
  return {
    topic: topic.name,
    group,
    partitions: replies.filter((r) => Number(r) === 1).length,
    pendingDropped: present.reduce((n, s) => n + (s.group?.pending ?? 0), 0),
  };
}
