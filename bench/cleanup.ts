/** Finding and removing what scenarios wrote. */
import { createClient } from 'redis';

/** All a key search needs of a client. */
interface Commands {
  sendCommand<T>(args: string[]): Promise<T>;
}

/** Every key matching `pattern` (SCAN, so it never blocks Redis). */
export async function keysMatching(c: Commands, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await c.sendCommand<[string, string[]]>([
      'SCAN',
      cursor,
      'MATCH',
      pattern,
      'COUNT',
      '1000',
    ]);
    cursor = next;
    found.push(...keys);
  } while (cursor !== '0');
  return found;
}

/**
 * Deletes every key containing the token. redis-smq's keys are left to its own API (smq.ts):
 * deleting them here would leave its global registries naming a queue that no longer exists.
 */
export async function deleteKeys(url: string, token: string): Promise<void> {
  const c = createClient({ url });
  c.on('error', () => {});
  await c.connect();
  try {
    const ours = (await keysMatching(c, `*${token}*`)).filter((k) => !k.startsWith('redis-smq-'));
    for (let i = 0; i < ours.length; i += 1000)
      await c.sendCommand(['UNLINK', ...ours.slice(i, i + 1000)]);
  } finally {
    await c.close();
  }
}
