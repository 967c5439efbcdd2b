/**
 * Who owns which partition of an ordered group, read from the ownership keys (keys.ts) without
 * taking part: for `herald groups`, the exporter and the console.
 *
 * Formats (written by the ordered subscription's scripts):
 *   <ownerPrefix><group>   "<epoch>|<consumer>", with a PX lease: gone when the owner stops renewing
 *   <epochPrefix><group>   integer, incremented at every take-over, never expires
 */
import type { Topic } from '../core/topic.ts';
import type { RedisConnection } from './connection.ts';
import { allPartitionKeys } from './keys.ts';

/** One partition of an ordered group as seen by a reader. */
export interface PartitionOwnership {
  readonly partition: number;
  /** The consumer holding the lease, or undefined when nobody does. */
  readonly owner: string | undefined;
  /** The epoch of the current (or last) owner; 0 when the partition was never owned. */
  readonly epoch: number;
  /** Milliseconds left on the owner's lease (undefined without an owner). */
  readonly leaseLeftMs: number | undefined;
}

/** Splits an ownership value "<epoch>|<consumer>"; undefined when it is not one. */
export function parseOwnerValue(value: string): { epoch: number; owner: string } | undefined {
  const bar = value.indexOf('|');
  if (bar < 1) return undefined;
  const epoch = Number(value.slice(0, bar));
  if (!Number.isSafeInteger(epoch) || epoch < 1) return undefined;
  return { epoch, owner: value.slice(bar + 1) };
}

export function formatOwnerValue(epoch: number, owner: string): string {
  return `${epoch}|${owner}`;
}

/** Reads the ownership of every partition of `topic` for `group` (one pipeline). */
export async function readOwnership(
  conn: RedisConnection,
  prefix: string,
  topic: Topic<unknown>,
  group: string,
): Promise<PartitionOwnership[]> {
  const parts = allPartitionKeys(prefix, topic);
  const commands = parts.flatMap((p) => [
    ['GET', p.ownerPrefix + group],
    ['PTTL', p.ownerPrefix + group],
    ['GET', p.epochPrefix + group],
  ]);
  const replies = await conn.pipeline(commands);
  return parts.map((p, i) => {
    const [value, ttl, epochText] = replies.slice(i * 3, i * 3 + 3);
    for (const r of [value, ttl, epochText]) if (r instanceof Error) throw r;
    const parsed = typeof value === 'string' ? parseOwnerValue(value) : undefined;
    const lastEpoch = typeof epochText === 'string' ? Number(epochText) : 0;
    return {
      partition: p.partition,
      owner: parsed?.owner,
      epoch: parsed?.epoch ?? (Number.isSafeInteger(lastEpoch) ? lastEpoch : 0),
      leaseLeftMs: parsed !== undefined && typeof ttl === 'number' && ttl >= 0 ? ttl : undefined,
    };
  });
}
