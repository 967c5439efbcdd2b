/** Consumer-group housekeeping for a subscription: creating groups, removing consumers safely. */
import type { TransportSettings } from '../core/delivery-port.ts';
import type { RedisConnection } from './connection.ts';
import type { PartitionKeys } from './keys.ts';
import { toRecord } from './replies.ts';
import { loadScript, runScript } from './scripts.ts';

const groupCreate = loadScript('group-create');
const consumerRemove = loadScript('consumer-remove');

/** Creates the group on every partition where it does not exist yet, starting at `start`. */
/** The XGROUP CREATE start id of a subscription's `startFrom`. */
export function groupStartId(from: TransportSettings['startFrom']): string {
  if (from === 'new') return '$';
  if (from === 'beginning') return '0';
  return from.position;
}

export async function ensureGroups(
  conn: RedisConnection,
  parts: readonly PartitionKeys[],
  group: string,
  start: string,
): Promise<void> {
  await Promise.all(parts.map((p) => runScript(conn, groupCreate, [p.stream], [group, start])));
}

/**
 * Removes `consumer` from the group on every partition where it holds nothing
 * pending and was idle at least `minIdleMs` (one atomic script per partition).
 * Returns how many partitions removed it.
 */
export async function removeConsumerIfIdle(
  conn: RedisConnection,
  parts: readonly PartitionKeys[],
  group: string,
  consumer: string,
  minIdleMs: number,
  timeoutMs?: number,
): Promise<number> {
  const removed = await Promise.all(
    parts.map((p) =>
      runScript<number>(conn, consumerRemove, [p.stream], [group, consumer, String(minIdleMs)], {
        timeoutMs,
      }),
    ),
  );
  return removed.reduce((a, b) => a + Number(b), 0);
}

/** Removes the group's other consumers that hold nothing and were idle longer than `idleLimitMs`. */
export async function removeGoneConsumers(
  conn: RedisConnection,
  parts: readonly PartitionKeys[],
  group: string,
  self: string,
  idleLimitMs: number,
): Promise<void> {
  for (const p of parts) {
    const rows = await conn.send<unknown[]>(['XINFO', 'CONSUMERS', p.stream, group], {
      key: p.stream,
    });
    for (const info of rows.map(toRecord)) {
      const name = info.name;
      if (name === undefined || name === self) continue;
      if (Number(info.pending) === 0 && Number(info.idle) > idleLimitMs) {
        await removeConsumerIfIdle(conn, [p], group, name, idleLimitMs);
      }
    }
  }
}
