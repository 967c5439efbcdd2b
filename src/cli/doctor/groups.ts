/**
 * Consumer groups: a group whose lag grows between two samples taken a short
 * interval apart is falling behind; a pending event idle longer than the
 * threshold is stuck (nobody reclaims it: every consumer of the group is gone).
 *
 * Redis does not always know a group's lag (XINFO GROUPS says null for a group
 * created at `$` until it first catches up). Then growth is judged by
 * positions instead: new events arrived and none was delivered to the group.
 */
import { sendAll } from '../../ops/inspect.ts';
import type { RedisConnection } from '../../redis/connection.ts';
import { allPartitionKeys } from '../../redis/keys.ts';
import { readTopicRecords, topicOfRecord } from '../../ops/inspect.ts';
import { formatDuration } from '../output.ts';
import { compareIds } from '../stream-ids.ts';
import { result, type CheckResult, type DoctorCheck } from './check.ts';

interface StreamRef {
  readonly topic: string;
  readonly partition: number;
  readonly stream: string;
}

interface GroupSample extends StreamRef {
  readonly group: string;
  /** Undefined where Redis cannot tell. */
  readonly lag: number | undefined;
  readonly lastDelivered: string;
  /** The stream's newest entry when sampled ('0-0' when empty). */
  readonly streamLast: string;
}

interface XInfoGroup {
  readonly name: string;
  readonly lag?: number | null;
  readonly 'last-delivered-id'?: string;
}

/** Every group of every partition: lag, last delivered id, and the stream's newest id. One round trip. */
async function sample(conn: RedisConnection, refs: readonly StreamRef[]): Promise<GroupSample[]> {
  const replies = await sendAll(
    conn,
    refs.flatMap((r) => [
      { args: ['XINFO', 'GROUPS', r.stream], key: r.stream },
      { args: ['XREVRANGE', r.stream, '+', '-', 'COUNT', '1'], key: r.stream },
    ]),
  );
  const out: GroupSample[] = [];
  refs.forEach((ref, i) => {
    const groups = replies[2 * i];
    const newest = replies[2 * i + 1];
    if (!Array.isArray(groups)) return; // no stream yet: no groups
    const streamLast =
      Array.isArray(newest) && Array.isArray(newest[0]) ? String(newest[0][0]) : '0-0';
    for (const g of groups as XInfoGroup[]) {
      out.push({
        ...ref,
        group: String(g.name),
        lag: typeof g.lag === 'number' ? g.lag : undefined,
        lastDelivered: String(g['last-delivered-id'] ?? '0-0'),
        streamLast,
      });
    }
  });
  return out;
}

/** Groups holding pending events idle longer than the threshold (at most 100 counted each). */
async function stuck(
  conn: RedisConnection,
  groups: readonly GroupSample[],
  idleMs: number,
): Promise<{ group: GroupSample; count: number; idleMs: number }[]> {
  const replies = await sendAll(
    conn,
    groups.map((g) => ({
      args: ['XPENDING', g.stream, g.group, 'IDLE', String(idleMs), '-', '+', '100'],
      key: g.stream,
    })),
  );
  const out: { group: GroupSample; count: number; idleMs: number }[] = [];
  replies.forEach((reply, i) => {
    const group = groups[i];
    if (!group || !Array.isArray(reply) || reply.length === 0) return;
    const idle = Math.max(
      ...(reply as [string, string, number, number][]).map((e) => Number(e[2])),
    );
    out.push({ group, count: reply.length, idleMs: idle });
  });
  return out;
}

/** Why this group is falling behind between two samples, or undefined when it is not. */
function growth(was: GroupSample, now: GroupSample, interval: string): string | undefined {
  if (was.lag !== undefined && now.lag !== undefined) {
    return now.lag > was.lag ? `lag grew from ${was.lag} to ${now.lag} in ${interval}` : undefined;
  }
  const arrived = compareIds(now.streamLast, was.streamLast) > 0;
  const delivered = compareIds(now.lastDelivered, was.lastDelivered) > 0;
  const behind = compareIds(now.lastDelivered, now.streamLast) < 0;
  return arrived && !delivered && behind
    ? `new events arrived in ${interval} and none was delivered (Redis does not report this group's lag)`
    : undefined;
}

export const groupsCheck: DoctorCheck = {
  id: 'groups',
  title: 'consumer groups (lag, stuck pending)',
  async run({ conn, prefix, options }) {
    const records = await readTopicRecords(conn, prefix);
    const partitions = new Map(records.map((r) => [r.name, r.partitions]));
    const refs: StreamRef[] = records.flatMap((r) =>
      allPartitionKeys(prefix, topicOfRecord(r)).map((p) => ({
        topic: r.name,
        partition: p.partition,
        stream: p.stream,
      })),
    );
    const first = await sample(conn, refs);
    if (first.length === 0) {
      return [
        result(
          this,
          'PASS',
          `no consumer groups under prefix '${prefix}' (${records.length} topic(s))`,
        ),
      ];
    }
    await new Promise((resolve) => setTimeout(resolve, options.sampleMs));
    const second = await sample(conn, refs);

    const where = (g: GroupSample): string =>
      `group '${g.group}' on '${g.topic}'${(partitions.get(g.topic) ?? 1) > 1 ? ` partition ${g.partition}` : ''}`;
    const before = new Map(first.map((g) => [`${g.stream}\n${g.group}`, g]));
    const interval = formatDuration(options.sampleMs);
    const out: CheckResult[] = [];
    for (const g of second) {
      const was = before.get(`${g.stream}\n${g.group}`);
      const why = was && growth(was, g, interval);
      if (!why) continue;
      out.push(
        result(this, 'WARN', `${where(g)}: ${why}`, {
          advice: `check that consumers of '${g.group}' are running and healthy, or add consumers (herald groups ${g.topic})`,
        }),
      );
    }
    for (const s of await stuck(conn, second, options.stuckAfterMs)) {
      const n = s.count >= 100 ? '100+' : String(s.count);
      out.push(
        result(
          this,
          'FAIL',
          `${where(s.group)}: ${n} pending event(s) idle for up to ${formatDuration(s.idleMs)} (over ${formatDuration(options.stuckAfterMs)})`,
          {
            advice:
              `start a consumer for '${s.group.group}' (it takes over events idle past its visibility timeout); ` +
              `if the group is retired, delete it: XGROUP DESTROY ${s.group.stream} ${s.group.group}`,
          },
        ),
      );
    }
    if (out.length === 0) {
      out.push(
        result(
          this,
          'PASS',
          `${second.length} group partition(s) on ${records.length} topic(s): not falling behind, nothing stuck`,
        ),
      );
    }
    return out;
  },
};
