/**
 * Read-only browsing for the console and the gateway: a partition's events
 * from a position or time (decoded, with their raw fields), and a group's
 * pending events with idle time and delivery count.
 */
import { decodeEnvelope, decodeRaw, pairs } from '../core/codec.ts';
import type { HeraldEvent } from '../core/event.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisConnection } from '../redis/connection.ts';
import { partitionKeys } from '../redis/keys.ts';
import { NotFoundError } from '../core/errors.ts';
import { sendAll } from './inspect.ts';
import { firstIdOf, type StreamTarget } from './stream-ids.ts';

export interface BrowsedEvent {
  readonly partition: number;
  readonly position: string;
  /** The decoded event; undefined when the entry cannot be decoded (see `error`). */
  readonly event?: HeraldEvent;
  readonly error?: string;
  /** The entry's fields as stored. */
  readonly fields: Readonly<Record<string, string>>;
}

/** Decodes one stream entry the way consumers would. */
export function decodeEntry(
  topic: Topic<unknown>,
  partition: number,
  position: string,
  flat: readonly string[],
): BrowsedEvent {
  const fields = pairs(flat);
  const ctx = { topic: topic.name, partition, position };
  try {
    const event =
      topic.codec === 'raw' ? decodeRaw(fields, ctx, topic) : decodeEnvelope(fields, ctx);
    return { partition, position, event, fields };
  } catch (e) {
    return { partition, position, fields, error: (e as Error).message };
  }
}

function partitionOf(topic: Topic<unknown>, prefix: string, partition: number) {
  if (!Number.isInteger(partition) || partition < 0 || partition >= topic.partitions) {
    throw new NotFoundError(
      `topic '${topic.name}' has no partition ${partition} (it has ${topic.partitions})`,
    );
  }
  return partitionKeys(prefix, topic, partition);
}

/**
 * Up to `limit` events of one partition starting at `from` (inclusive),
 * oldest first; from `end`, the last `limit` events.
 */
export async function browseEvents(
  conn: RedisConnection,
  prefix: string,
  topic: Topic<unknown>,
  partition: number,
  from: StreamTarget,
  limit: number,
): Promise<BrowsedEvent[]> {
  const p = partitionOf(topic, prefix, partition);
  const first = firstIdOf(from);
  const rows =
    first === undefined
      ? (
          await conn.send<[string, string[]][]>(
            ['XREVRANGE', p.stream, '+', '-', 'COUNT', String(limit)],
            { key: p.stream },
          )
        ).reverse()
      : await conn.send<[string, string[]][]>(
          ['XRANGE', p.stream, first, '+', 'COUNT', String(limit)],
          { key: p.stream },
        );
  return rows.map(([position, flat]) => decodeEntry(topic, partition, position, flat));
}

export interface PendingEvent {
  readonly partition: number;
  readonly position: string;
  readonly consumer: string;
  readonly idleSeconds: number;
  readonly deliveries: number;
}

/** The group's pending events on every partition (at most `limit` per partition), oldest first. */
export async function pendingEvents(
  conn: RedisConnection,
  prefix: string,
  topic: Topic<unknown>,
  group: string,
  limit: number,
): Promise<PendingEvent[]> {
  const parts = Array.from({ length: topic.partitions }, (_, i) => partitionKeys(prefix, topic, i));
  const replies = await sendAll(
    conn,
    parts.map((p) => ({
      args: ['XPENDING', p.stream, group, '-', '+', String(limit)],
      key: p.stream,
    })),
  );
  return replies.flatMap((r, i) =>
    Array.isArray(r)
      ? (r as [string, string, number, number][]).map(([position, consumer, idle, deliveries]) => ({
          partition: i,
          position,
          consumer,
          idleSeconds: Number(idle) / 1000,
          deliveries: Number(deliveries),
        }))
      : [],
  );
}
