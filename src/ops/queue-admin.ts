/**
 * Operating work queues, shared by the CLI (`herald queues`), the HTTP gateway
 * and the console: find the queues, count pending/processing/dead items, list
 * dead items, and retry or purge them.
 *
 * Queues have no registry: they are found with SCAN over their key pattern
 * (`<prefix>:{q:<name>}:…`). On Redis Cluster SCAN reads one node, so there
 * name the queue instead of listing.
 */
import type { DeadItem, QueueCounts } from '../core/queue.ts';
import type { RedisConnection } from '../redis/connection.ts';
import { decodeDead, queueKeys } from '../redis/queue-items.ts';
import { loadScript, runScript } from '../redis/scripts.ts';
import { sendAll } from './inspect.ts';

const deadAdminScript = loadScript('queue-dead-admin', new URL('./lua/', import.meta.url));

/** Keys examined per SCAN call. */
const SCAN_COUNT = 1000;
/** Dead entries moved or removed per script call (each call is atomic and short). */
export const DEAD_BATCH = 500;
/** Dead items listed when no limit is given. */
export const DEFAULT_DEAD_LIMIT = 100;

export interface QueueInfo extends QueueCounts {
  readonly name: string;
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Names of the queues under `prefix` that have any item (pending, processing or dead), sorted. */
export async function listQueueNames(conn: RedisConnection, prefix: string): Promise<string[]> {
  const names = new Set<string>();
  const head = `${prefix}:{q:`;
  let cursor = '0';
  do {
    const reply = await conn.send<[string, string[]] | { cursor: string; keys: string[] }>([
      'SCAN',
      cursor,
      'MATCH',
      `${globEscape(head)}*}:*`,
      'COUNT',
      String(SCAN_COUNT),
    ]);
    const [next, keys] = Array.isArray(reply) ? reply : [reply.cursor, reply.keys];
    cursor = String(next);
    for (const key of keys) {
      const end = key.lastIndexOf('}:');
      if (key.startsWith(head) && end > head.length) names.add(key.slice(head.length, end));
    }
  } while (cursor !== '0');
  return [...names].sort();
}

/** Pending, processing and dead counts of each named queue, in one round trip. */
export async function queueCounts(
  conn: RedisConnection,
  prefix: string,
  names: readonly string[],
): Promise<QueueInfo[]> {
  const keys = names.map((n) => queueKeys(prefix, n));
  const replies = await sendAll(
    conn,
    keys.flatMap((k) => [
      { args: ['LLEN', k.pending], key: k.pending },
      { args: ['LLEN', k.processing], key: k.pending },
      { args: ['LLEN', k.dead], key: k.pending },
    ]),
  );
  const failed = replies.find((r) => r instanceof Error);
  if (failed) throw failed;
  return names.map((name, i) => ({
    name,
    pending: Number(replies[3 * i]),
    processing: Number(replies[3 * i + 1]),
    dead: Number(replies[3 * i + 2]),
  }));
}

/** Every queue found under `prefix`, with its counts. */
export async function listQueues(conn: RedisConnection, prefix: string): Promise<QueueInfo[]> {
  return queueCounts(conn, prefix, await listQueueNames(conn, prefix));
}

/** Dead items of a queue, oldest first. */
export async function listDeadItems(
  conn: RedisConnection,
  prefix: string,
  name: string,
  limit = DEFAULT_DEAD_LIMIT,
): Promise<DeadItem[]> {
  const k = queueKeys(prefix, name);
  const raw = await conn.send<string[]>(['LRANGE', k.dead, String(-limit), '-1'], {
    key: k.pending,
  });
  return raw
    .reverse()
    .map((r) => decodeDead(r))
    .filter((d): d is DeadItem => d !== undefined);
}

export interface DeadItemsOptions {
  /** Only these item ids. Default: every dead item. */
  readonly ids?: readonly string[];
  /** Called after each atomic batch with the running total; throw from it to stop between batches. */
  readonly onProgress?: (done: number, left: number) => void;
}

async function eachBatch(
  conn: RedisConnection,
  prefix: string,
  name: string,
  op: 'retry' | 'purge',
  options: DeadItemsOptions,
): Promise<number> {
  const k = queueKeys(prefix, name);
  const selection = options.ids ? ['ids', ...options.ids] : ['all'];
  let total = 0;
  for (;;) {
    const [done, left] = await runScript<[number, number]>(
      conn,
      deadAdminScript,
      [k.dead, k.pending],
      [op, String(DEAD_BATCH), ...selection],
    );
    total += Number(done);
    options.onProgress?.(total, Number(left));
    // A selection is handled in one call (unless it is larger than a batch); 'all' until nothing moves.
    if (Number(done) < DEAD_BATCH || Number(left) === 0) return total;
  }
}

/** Puts dead items back at the end of the pending list with their attempts reset. Returns how many. */
export function retryDeadItems(
  conn: RedisConnection,
  prefix: string,
  name: string,
  options: DeadItemsOptions = {},
): Promise<number> {
  return eachBatch(conn, prefix, name, 'retry', options);
}

/** Deletes dead items for good. Returns how many. */
export function purgeDeadItems(
  conn: RedisConnection,
  prefix: string,
  name: string,
  options: DeadItemsOptions = {},
): Promise<number> {
  return eachBatch(conn, prefix, name, 'purge', options);
}
