/**
 * Consumer groups, sampled twice a short interval apart:
 * - a group whose lag grows between the samples is falling behind (WARN);
 * - a group with unread events and no live consumer will not catch up (WARN);
 * - a group with events waiting and no progress for longer than the threshold
 *   is stalled (FAIL): a stopped service, whatever the size of its backlog;
 * - a pending event idle longer than the threshold is stuck (FAIL: nobody
 *   reclaims it, every consumer of the group is gone);
 * - Redis's own lag (XINFO GROUPS) disagreeing with the unread events counted
 *   is said (WARN): Redis 7.0 gets it wrong for good after reloading its AOF,
 *   so tools reading it directly mislead. Herald counts instead.
 */
import type { RedisConnection } from '../../redis/connection.ts';
import { allGroupStats, sendAll, type GroupInfo } from '../../ops/inspect.ts';
import { formatDuration } from '../output.ts';
import { result, type CheckResult, type DoctorCheck } from './check.ts';

/**
 * A consumer idle longer than this is not live: a running Herald consumer polls
 * (XREADGROUP BLOCK 2 s) and claims far more often.
 */
export const LIVE_CONSUMER_IDLE_MS = 60_000;

/** Stuck pending events counted per group partition at most. */
const STUCK_COUNT_LIMIT = 100;

const groupKey = (g: Pick<GroupInfo, 'topic' | 'group'>): string => `${g.topic}\n${g.group}`;
const where = (g: GroupInfo): string => `group '${g.group}' on '${g.topic}'`;
const destroy = (g: GroupInfo): string =>
  g.partitions.map((p) => `XGROUP DESTROY ${p.stream} ${g.group}`).join('; ');
const lagText = (g: GroupInfo): string => `${g.lagAtLeast ? 'at least ' : ''}${g.lag ?? '?'}`;

/** Pending events idle longer than the threshold, per group: the count and the longest idle. */
async function stuck(
  conn: RedisConnection,
  groups: readonly GroupInfo[],
  idleMs: number,
): Promise<{ group: GroupInfo; count: number; idleMs: number }[]> {
  const targets = groups.flatMap((g) =>
    g.partitions.filter((p) => p.pending > 0).map((p) => ({ g, stream: p.stream })),
  );
  const replies = await sendAll(
    conn,
    targets.map((t) => ({
      args: [
        'XPENDING',
        t.stream,
        t.g.group,
        'IDLE',
        String(idleMs),
        '-',
        '+',
        String(STUCK_COUNT_LIMIT),
      ],
      key: t.stream,
    })),
  );
  const byGroup = new Map<GroupInfo, { count: number; idleMs: number }>();
  replies.forEach((reply, i) => {
    const t = targets[i];
    if (!t || !Array.isArray(reply) || reply.length === 0) return;
    const idle = Math.max(
      ...(reply as [string, string, number, number][]).map((e) => Number(e[2])),
    );
    const prev = byGroup.get(t.g) ?? { count: 0, idleMs: 0 };
    byGroup.set(t.g, {
      count: prev.count + reply.length,
      idleMs: Math.max(prev.idleMs, idle),
    });
  });
  return [...byGroup].map(([group, s]) => ({ group, ...s }));
}

/** "no consumer" or "its N consumer(s) idle for at least …", when none is live; undefined otherwise. */
function noLiveConsumer(g: GroupInfo): string | undefined {
  if (g.consumers.length === 0) return 'no consumer';
  const leastIdle = Math.min(...g.consumers.map((c) => c.idleSeconds)) * 1000;
  return leastIdle >= LIVE_CONSUMER_IDLE_MS
    ? `its ${g.consumers.length} consumer(s) idle for at least ${formatDuration(leastIdle)}`
    : undefined;
}

function waiting(g: GroupInfo): string {
  return `${lagText(g)} unread and ${g.pending} pending event(s)`;
}

export const groupsCheck: DoctorCheck = {
  id: 'groups',
  title: 'consumer groups (lag, stalled, stuck pending)',
  async run({ conn, prefix, options }) {
    const first = await allGroupStats(conn, prefix);
    if (first.length === 0) {
      return [result(this, 'PASS', `no consumer groups under prefix '${prefix}'`)];
    }
    await new Promise((resolve) => setTimeout(resolve, options.sampleMs));
    const second = await allGroupStats(conn, prefix);
    const before = new Map(first.map((g) => [groupKey(g), g]));
    const interval = formatDuration(options.sampleMs);
    const stalledAfter = formatDuration(options.stuckAfterMs);
    const out: CheckResult[] = [];

    for (const g of second) {
      const was = before.get(groupKey(g));
      const nobody = noLiveConsumer(g);
      const unread = (g.lag ?? 0) > 0;
      if (g.secondsSinceProgress * 1000 > options.stuckAfterMs) {
        out.push(
          result(
            this,
            'FAIL',
            `${where(g)}: no progress for ${formatDuration(g.secondsSinceProgress * 1000)} (over ${stalledAfter}) with ${waiting(g)}${nobody ? `, ${nobody}` : ''}`,
            {
              advice:
                `start the consumers of '${g.group}' (herald groups ${g.topic} shows them and their idle time); ` +
                `if the group is retired, delete it: ${destroy(g)}`,
            },
          ),
        );
      } else if (unread && nobody) {
        out.push(
          result(this, 'WARN', `${where(g)}: ${waiting(g)} and ${nobody}`, {
            advice: `start a consumer for '${g.group}', or delete the group if it is retired`,
          }),
        );
      }
      if (
        was &&
        was.lag !== null &&
        g.lag !== null &&
        !was.lagAtLeast &&
        !g.lagAtLeast &&
        g.lag > was.lag
      ) {
        out.push(
          result(this, 'WARN', `${where(g)}: lag grew from ${was.lag} to ${g.lag} in ${interval}`, {
            advice: `check that consumers of '${g.group}' are running and healthy, or add consumers (herald groups ${g.topic})`,
          }),
        );
      }
      // Said only when both samples disagree: one sample can race with a reader or a trim.
      const wrong = g.redisLagWrong.filter((p) => was?.redisLagWrong.includes(p));
      if (wrong.length > 0) {
        const parts = g.partitions.filter((p) => wrong.includes(p.partition));
        const figures = parts
          .map(
            (p) =>
              `${g.partitions.length > 1 ? `partition ${p.partition}: ` : ''}Redis says ${p.redisLag ?? '?'}, ${p.lag ?? '?'} unread`,
          )
          .join('; ');
        out.push(
          result(
            this,
            'WARN',
            `${where(g)}: Redis's lag is wrong (${figures}); Herald counts the unread events instead`,
            {
              advice:
                "Redis 7.0 restores a group's entries-read from the AOF as it was when the group was created, " +
                'so XINFO GROUPS lag stays off for good; read lag from herald groups or herald_group_lag, not from XINFO GROUPS',
            },
          ),
        );
      }
    }
    for (const s of await stuck(conn, second, options.stuckAfterMs)) {
      const n = s.count >= STUCK_COUNT_LIMIT ? `${STUCK_COUNT_LIMIT}+` : String(s.count);
      out.push(
        result(
          this,
          'FAIL',
          `${where(s.group)}: ${n} pending event(s) idle for up to ${formatDuration(s.idleMs)} (over ${stalledAfter})`,
          {
            advice:
              `start a consumer for '${s.group.group}' (it takes over events idle past its visibility timeout); ` +
              `if the group is retired, delete it: ${destroy(s.group)}`,
          },
        ),
      );
    }
    if (out.length === 0) {
      out.push(
        result(
          this,
          'PASS',
          `${second.length} group(s): consuming, not falling behind, nothing stuck`,
        ),
      );
    }
    return out;
  },
};
