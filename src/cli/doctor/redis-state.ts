/** Reads INFO and CONFIG once for every doctor check. */
import { parseInfo } from '../../ops/inspect.ts';
import type { RedisConnection } from '../../redis/connection.ts';

export { parseInfo };

export async function readInfo(conn: RedisConnection): Promise<Record<string, string>> {
  return parseInfo(String(await conn.send(['INFO'])));
}

/** The parameters the checks read. */
export const CONFIG_PARAMETERS = [
  'appendonly',
  'appendfsync',
  'maxmemory',
  'maxmemory-policy',
  'min-replicas-to-write',
  'min-replicas-max-lag',
] as const;

/**
 * CONFIG GET of the parameters the checks need; undefined when CONFIG is not
 * allowed (managed services rename or forbid it), so checks fall back to INFO.
 */
export async function readConfig(
  conn: RedisConnection,
): Promise<Record<string, string> | undefined> {
  try {
    const reply = await conn.send<unknown>(['CONFIG', 'GET', ...CONFIG_PARAMETERS]);
    const out: Record<string, string> = {};
    if (Array.isArray(reply)) {
      // RESP2: a flat [name, value, …] list.
      for (let i = 0; i + 1 < reply.length; i += 2) out[String(reply[i])] = String(reply[i + 1]);
    } else if (reply !== null && typeof reply === 'object') {
      for (const [k, v] of Object.entries(reply)) out[k] = String(v);
    }
    return out;
  } catch {
    return undefined;
  }
}
