/**
 * Consumer groups: a group whose lag grows between two samples taken a short
 * interval apart is falling behind; a pending event idle longer than the
 * threshold is stuck (nobody reclaims it: every consumer of the group is gone).
 */
import type { RedisConnection } from '../../redis/connection.ts';
import { allPartitionKeys } from '../../redis/keys.ts';
import { listTopicRecords, topicFromRecord } from '../context.ts';
import { formatDuration } from '../output.ts';
import { result, type CheckResult, type DoctorCheck } from './check.ts';

interface GroupRef {
  readonly topic: string;
  readonly partition: number;
  readonly stream: string;
}

interface GroupSample extends GroupRef {
  readonly group: string;
  readonly lag: number | undefined;
}

interface XInfoGroup {
  name: string;
  lag?: number | null;
}

/** Every group of every partition, with its lag (undefined where Redis cannot tell). */
async function sample(conn: RedisConnection, refs: readonly GroupRef[]): Promise<GroupSample[]> {
  const replies = await conn.pipeline(refs.map((r) => ['XINFO', 'GROUPS', r.stream]));
  const out: GroupSample[] = [];
  replies.forEach((reply, i) => {
    const ref = refs[i];
    if (!ref || !Array.isArray(reply)) return; // no stream yet: no groups
    for (const g of reply as XInfoGroup[]) {
      const lag = typeof g.lag === 'number' ? g.lag : undefined;
      out.push({ ...ref, group: String(g.name), lag });
    }
  });
  return out;
}

/** The oldest-idle pending events above the threshold, per group (at most 100 counted). */
async function stuck(
  conn: RedisConnection,
  groups: readonly GroupSample[],
  idleMs: number,
): Promise<{ group: GroupSample; count: number; idleMs: number }[]> {
  const replies = await conn.pipeline(
    groups.map((g) => ['XPENDING', g.stream, g.group, 'IDLE', String(idleMs), '-', '+', '100']),
  );
  const out: { group: GroupSample; count: number; idleMs: number }[] = [];
  replies.forEach((reply, i) => {
    const group = groups[i];
    if (!group || !Array.isArray(reply) || reply.length === 0) return;
    const idle = Math.max(...(reply as [string, string, number, number][]).map((e) => Number(e[2])));
    out.push({ group, count: reply.length, idleMs: idle });
  });
  return out;
}

const where = (g: GroupSample, partitions: Map<string, number>): string =>
  `group '${g.group}' on '${g.topic}'${(partitions.get(g.topic) ?? 1) > 1 ? ` partition ${g.partition}` : ''}`;

export const groupsCheck: DoctorCheck = {
  id: 'groups',
  title: 'consumer groups (lag, stuck pending)',
  async run({ conn, prefix, options }) {
    const records = await listTopicRecords(conn, prefix);
    const partitions = new Map(records.map((r) => [r.name, r.partitions]));
    const refs: GroupRef[] = records.flatMap((r) =>
      allPartitionKeys(prefix, topicFromRecord(r)).map((p) => ({
        topic: r.name,
        partition: p.partition,
        stream: p.stream,
      })),
    );
    const first = await sample(conn, refs);
    if (first.length === 0) {
      return [result(this, 'PASS', `no consumer groups under prefix '${prefix}' (${records.length} topic(s))`)];
    }
    await new Promise((resolve) => setTimeout(resolve, options.sampleMs));
    const second = await sample(conn, refs);
    const before = new Map(first.map((g) => [`${g.stream}\n${g.group}`, g.lag]));
    const out: CheckResult[] = [];
    for (const g of second) {
      const was = before.get(`${g.stream}\n${g.group}`);
      if (was === undefined || g.lag === undefined || g.lag <= was) continue;
      out.push(
        result(this, 'WARN', `${where(g, partitions)}: lag grew from ${was} to ${g.lag} in ${formatDuration(options.sampleMs)}`, {
          advice: `check that consumers of '${g.group}' are running and healthy, or add consumers (herald groups ${g.topic})`,
        }),
      );
    }
    for (const s of await stuck(conn, second, options.stuckAfterMs)) {
      const n = s.count >= 100 ? '100+' : String(s.count);
      out.push(
        result(this, 'FAIL', `${where(s.group, partitions)}: ${n} pending event(s) idle for up to ${formatDuration(s.idleMs)} (over ${formatDuration(options.stuckAfterMs)})`, {
          advice:
            `start a consumer for '${s.group.group}' (it takes over events idle past its visibility timeout); ` +
            `if the group is retired, delete it: XGROUP DESTROY ${s.group.stream} ${s.group.group}`,
        }),
      );
    }
    if (out.length === 0) {
      const unknown = second.filter((g) => g.lag === undefined).length;
      const note = unknown > 0 ? ` (${unknown} with lag Redis cannot compute)` : '';
      out.push(result(this, 'PASS', `${second.length} group partition(s) on ${records.length} topic(s): lag not growing, nothing stuck${note}`));
    }
    return out;
  },
};
