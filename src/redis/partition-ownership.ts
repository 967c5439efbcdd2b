/**
 * Partition ownership of an ordered consumer group on Redis (the keys are in keys.ts, the
 * read-only view for tools in ownership-read.ts):
 *
 * - membership: each instance heartbeats its entry in the group's members ZSET (score: lease
 *   end on Redis's clock) and gets the live members back; expired ones are dropped;
 * - ownership: `acquire` takes a partition nobody owns (INCR of its epoch, owner key
 *   "<epoch>|<consumer>" with a PX lease), `renew` extends it only while still held by the same
 *   token, `release` deletes it only then. Every script touches one partition's keys, which share
 *   the partition's hash tag, so they run on Cluster too.
 */
import type { Topic } from '../core/topic.ts';
import type { RedisConnection } from './connection.ts';
import { membersKey, type PartitionKeys } from './keys.ts';
import { formatOwnerValue } from './ownership-read.ts';
import { loadScript, runScript } from './scripts.ts';

const membersScript = loadScript('ordered-members');
const acquireScript = loadScript('partition-acquire');
const renewScript = loadScript('partition-renew');
const releaseScript = loadScript('partition-release');

/** One ownership of a partition: what fenced scripts check. */
export interface Ownership {
  readonly epoch: number;
  /** "<epoch>|<consumer>", the owner key's value. */
  readonly token: string;
  /** The owner key (`<ownerPrefix><group>`). */
  readonly ownerKey: string;
}

export class PartitionOwnership {
  private readonly members: string;

  constructor(
    private readonly conn: RedisConnection,
    prefix: string,
    topic: Topic<unknown>,
    private readonly group: string,
    private readonly consumer: string,
    private readonly leaseMs: number,
  ) {
    this.members = membersKey(prefix, topic, group);
  }

  /** Heartbeats this instance; returns the live members. */
  async heartbeat(): Promise<string[]> {
    const reply = await runScript<string[]>(
      this.conn,
      membersScript,
      [this.members],
      [this.consumer, String(this.leaseMs)],
    );
    return reply.map(String);
  }

  /** Leaves the group's members (close): the others rebalance at their next tick. */
  async leave(timeoutMs: number): Promise<void> {
    await runScript(this.conn, membersScript, [this.members], [this.consumer, '0'], { timeoutMs });
  }

  /** Takes `p` when nobody owns it; undefined when another owner's lease still runs. */
  async acquire(p: PartitionKeys): Promise<Ownership | undefined> {
    const ownerKey = p.ownerPrefix + this.group;
    const epoch = Number(
      await runScript<number>(
        this.conn,
        acquireScript,
        [ownerKey, p.epochPrefix + this.group],
        [this.consumer, String(this.leaseMs)],
      ),
    );
    if (!(epoch > 0)) return undefined;
    return { epoch, token: formatOwnerValue(epoch, this.consumer), ownerKey };
  }

  /** Extends the lease; false when this ownership was lost (another took over). */
  async renew(o: Ownership): Promise<boolean> {
    const r = await runScript<number>(
      this.conn,
      renewScript,
      [o.ownerKey],
      [o.token, String(this.leaseMs)],
    );
    return Number(r) === 1;
  }

  /** Hands the partition over; false when this ownership was lost already. */
  async release(o: Ownership, timeoutMs?: number): Promise<boolean> {
    const r = await runScript<number>(this.conn, releaseScript, [o.ownerKey], [o.token], {
      timeoutMs,
    });
    return Number(r) === 1;
  }
}
