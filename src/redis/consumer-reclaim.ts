/**
 * Taking events over from consumers that died or hang (XAUTOCLAIM), and
 * keeping one's own held events from being taken (XCLAIM JUSTID heartbeat).
 */
import type { RedisConnection } from './connection.ts';
import type { PartitionKeys } from './keys.ts';

/** A stream entry as Redis returns it; fields are null when the entry was deleted. */
export type RawEntry = [string, string[] | null];

export interface Claimed {
  /** Entries now owned by the caller (deleted ones left out). */
  readonly live: RawEntry[];
  /** Each live entry's delivery count after the claim: its attempt number. */
  readonly attempts: Map<string, number>;
  /** Where the next call should continue ('0-0' once the pending list was walked through). */
  readonly next: string;
  /** Pending entries that no longer exist in the stream (trimmed before acknowledgement). */
  readonly deleted: number;
}

export async function autoclaim(
  conn: RedisConnection,
  p: PartitionKeys,
  group: string,
  consumer: string,
  minIdleMs: number,
  cursor: string,
  count: number,
): Promise<Claimed> {
  const [next, claimed, deleted] = await conn.send<[string, RawEntry[], string[] | undefined]>(
    ['XAUTOCLAIM', p.stream, group, consumer, String(minIdleMs), cursor, 'COUNT', String(count)],
    { key: p.stream },
  );
  const live = claimed.filter((e) => e[1] !== null);
  const attempts = new Map<string, number>();
  if (live.length > 0) {
    const counts = await conn.pipeline(
      live.map(([id]) => ['XPENDING', p.stream, group, id, id, '1']),
      { key: p.stream },
    );
    live.forEach(([id], i) => {
      const row = counts[i];
      const n = Array.isArray(row) && Array.isArray(row[0]) ? Number((row[0] as unknown[])[3]) : 1;
      attempts.set(id, Number.isFinite(n) && n > 0 ? n : 1);
    });
  }
  return { live, attempts, next: String(next), deleted: deleted?.length ?? 0 };
}

/**
 * Resets the idle time of events this consumer holds, without counting a
 * delivery. Only events idle at least `minIdleMs` are touched: one claimed
 * since by another consumer is usually younger and stays theirs.
 */
export async function touch(
  conn: RedisConnection,
  held: readonly (readonly [PartitionKeys, readonly string[]])[],
  group: string,
  consumer: string,
  minIdleMs: number,
): Promise<void> {
  await conn.pipeline(
    held.map(([p, ids]) => [
      'XCLAIM',
      p.stream,
      group,
      consumer,
      String(minIdleMs),
      ...ids,
      'JUSTID',
    ]),
  );
}
