/**
 * Dead letters chosen one by one (by their position in the dead-letter
 * stream), for the console and the gateway: replay or purge a selection. The
 * whole-topic operations with filters are the library's (`backend.deadLetters`).
 * Each replay is the library's atomic script call, so stopping between two
 * neither loses nor duplicates an event.
 */
import { derivedId, pairs } from '../core/codec.ts';
import type { DeadLetter } from '../core/contract.ts';
import { toDeadLetter } from '../core/dead-letter-fields.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisConnection } from '../redis/connection.ts';
import { allPartitionKeys } from '../redis/keys.ts';
import { loadScript, runScript } from '../redis/scripts.ts';

const replayScript = loadScript('dlq-replay');

/** Where a dead letter is: its partition and its position in that partition's dead-letter stream. */
export interface DeadLetterRef {
  readonly partition: number;
  readonly position: string;
}

/** Reads the named dead letters; those that are gone are left out. */
export async function readDeadLetters(
  conn: RedisConnection,
  prefix: string,
  topic: Topic<unknown>,
  refs: readonly DeadLetterRef[],
): Promise<DeadLetter[]> {
  const parts = allPartitionKeys(prefix, topic);
  const out: DeadLetter[] = [];
  for (const ref of refs) {
    const p = parts[ref.partition];
    if (!p) continue;
    const found = await conn.send<[string, string[]][]>(
      ['XRANGE', p.dlq, ref.position, ref.position],
      { key: p.dlq },
    );
    const entry = found[0];
    if (entry) out.push(toDeadLetter(topic.name, ref.partition, entry[0], pairs(entry[1])));
  }
  return out;
}

/**
 * Replays the named dead letters one at a time; `onProgress` after each may
 * throw to stop between two. Returns how many were replayed.
 */
export async function replayDeadLetters(
  conn: RedisConnection,
  prefix: string,
  topic: Topic<unknown>,
  refs: readonly DeadLetterRef[],
  onProgress?: (done: number, total: number) => void,
): Promise<number> {
  const parts = allPartitionKeys(prefix, topic);
  const letters = await readDeadLetters(conn, prefix, topic, refs);
  let done = 0;
  for (const d of letters) {
    const p = parts[d.partition];
    if (!p) continue;
    const id = topic.codec === 'raw' ? '' : derivedId(topic.name, d.partition, d.originalPosition);
    const pos = await runScript<string | null>(
      conn,
      replayScript,
      [p.dlq, p.stream],
      [d.position, id],
    );
    if (pos) done++;
    onProgress?.(done, letters.length);
  }
  return done;
}

/** Deletes the named dead letters for good. Returns how many were deleted. */
export async function purgeDeadLetters(
  conn: RedisConnection,
  prefix: string,
  topic: Topic<unknown>,
  refs: readonly DeadLetterRef[],
): Promise<number> {
  const parts = allPartitionKeys(prefix, topic);
  const byPart = new Map<number, string[]>();
  for (const r of refs) byPart.set(r.partition, [...(byPart.get(r.partition) ?? []), r.position]);
  let removed = 0;
  for (const [partition, ids] of byPart) {
    const key = parts[partition]?.dlq;
    if (key !== undefined) removed += await conn.send<number>(['XDEL', key, ...ids], { key });
  }
  return removed;
}
