/** Removing what a scenario wrote. */
import { createClient } from 'redis';

/**
 * Deletes every key containing the token (SCAN, so it never blocks Redis).
 * redis-smq's keys are left to its own API (smq.ts): deleting them here would
 * leave its global registries naming a queue that no longer exists.
 */
export async function deleteKeys(url: string, token: string): Promise<void> {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await c.sendCommand<[string, string[]]>([
        'SCAN',
        cursor,
        'MATCH',
        `*${token}*`,
        'COUNT',
        '1000',
      ]);
      cursor = next;
      const ours = keys.filter((k) => !k.startsWith('redis-smq-'));
      if (ours.length > 0) await c.sendCommand(['UNLINK', ...ours]);
    } while (cursor !== '0');
  } finally {
    await c.close();
  }
}
