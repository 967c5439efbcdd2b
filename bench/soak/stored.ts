/**
 * Of the events the soak counts as lost, how many Redis still stores: a stalled consumer
 * leaves them in the stream (pending or unread), which is a delay, not a loss of data. An
 * event published with an id has a dedupe record naming its position for the dedupe window.
 */
import { connectRedis as connect, allPartitionKeys } from '../../src/index.ts';
import { SOAK_PREFIX, SOAK_TOPIC } from './shared.ts';

export async function countStillStored(url: string, ids: readonly string[]): Promise<number> {
  const conn = await connect({ url });
  try {
    let stored = 0;
    const parts = allPartitionKeys(SOAK_PREFIX, SOAK_TOPIC);
    for (const id of ids) {
      for (const p of parts) {
        const key = p.dedupePrefix + id;
        const position = await conn.send<string | null>(['GET', key], { key });
        if (position === null) continue;
        const found = await conn.send<unknown[]>(['XRANGE', p.stream, position, position], {
          key: p.stream,
        });
        if (found.length > 0) stored++;
        break;
      }
    }
    return stored;
  } finally {
    await conn.close();
  }
}
