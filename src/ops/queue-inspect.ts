/**
 * Reading work queues from the outside (the exporter; later `herald queues`): which queues
 * exist and how many items each holds pending, processing and dead.
 *
 * Queues have no registry: a queue is its keys (`<prefix>:{q:<name>}:pending|processing|
 * leases|dead`, see src/redis/queue-items.ts), and an empty list does not exist in Redis.
 * So queues are found with SCAN, bounded in calls and in names, on every primary of a
 * Cluster; names given explicitly are always read, even while all their lists are empty.
 */
import type { RedisConnection } from '../redis/connection.ts';
import { primaries } from '../redis/functions.ts';
import { queueKeys } from '../redis/queue-items.ts';
import { sendAll } from './inspect.ts';

/** Keys examined per SCAN call (its COUNT hint). */
export const QUEUE_SCAN_COUNT = 1000;
/** SCAN calls per primary in one discovery: at most about 100 000 keys examined. */
export const DEFAULT_QUEUE_SCAN_CALLS = 100;
/** Queues reported at most, the first by name. */
export const DEFAULT_MAX_QUEUES = 500;

const QUEUE_KEY_SUFFIXES = new Set(['pending', 'processing', 'leases', 'dead']);

export interface QueueDiscoveryOptions {
  /** SCAN calls per primary. Default DEFAULT_QUEUE_SCAN_CALLS. */
  readonly maxScanCalls?: number;
  /** Per-command timeout in ms. */
  readonly timeoutMs?: number;
}

export interface QueueDiscovery {
  /** Queue names found, sorted. */
  readonly names: readonly string[];
  /** False until one full SCAN pass has ended: there may be more queues. */
  readonly complete: boolean;
  /** Redis commands the discovery sent. */
  readonly commands: number;
}

/** Escapes the characters SCAN MATCH treats as a pattern. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** The queue a key belongs to, or undefined when the key is not a queue key under `prefix`. */
export function queueNameOfKey(prefix: string, key: string): string | undefined {
  const head = `${prefix}:{q:`;
  if (!key.startsWith(head)) return undefined;
  const close = key.indexOf('}:', head.length);
  if (close <= head.length) return undefined;
  return QUEUE_KEY_SUFFIXES.has(key.slice(close + 2)) ? key.slice(head.length, close) : undefined;
}

/**
 * Finds the queues under `prefix` with a SCAN bounded to `maxScanCalls` calls per primary and
 * per `find()`. A keyspace too large for one call goes on where the last one stopped, so every
 * queue is found within a few calls: until a full pass ends, the names of the last full pass
 * (and those found so far) are reported, with `complete: false` before the first full pass.
 */
export class QueueFinder {
  private cursors: string[] = [];
  private scanning = new Set<string>();
  private lastPass: readonly string[] | undefined;

  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
    private readonly options: QueueDiscoveryOptions = {},
  ) {}

  async find(): Promise<QueueDiscovery> {
    const maxCalls = this.options.maxScanCalls ?? DEFAULT_QUEUE_SCAN_CALLS;
    const match = `${globEscape(this.prefix)}:{q:*}:*`;
    const nodes = await primaries(this.conn);
    if (this.cursors.length !== nodes.length) this.cursors = nodes.map(() => '0');
    let commands = 0;
    let passEnded = true;
    for (const [i, node] of nodes.entries()) {
      let cursor = this.cursors[i] ?? '0';
      let calls = 0;
      do {
        const args = ['SCAN', cursor, 'MATCH', match, 'COUNT', String(QUEUE_SCAN_COUNT)];
        const [next, keys] = (await node.send(args)) as [string | number, unknown[]];
        commands++;
        calls++;
        cursor = String(next);
        for (const key of keys) {
          const name = queueNameOfKey(this.prefix, String(key));
          if (name !== undefined) this.scanning.add(name);
        }
      } while (cursor !== '0' && calls < maxCalls);
      this.cursors[i] = cursor;
      if (cursor !== '0') passEnded = false;
    }
    if (passEnded) {
      this.lastPass = [...this.scanning].sort();
      this.scanning = new Set();
      this.cursors = nodes.map(() => '0');
      return { names: this.lastPass, complete: true, commands };
    }
    const names = [...new Set([...(this.lastPass ?? []), ...this.scanning])].sort();
    return { names, complete: this.lastPass !== undefined, commands };
  }
}

/** Finds the queues under `prefix` (one bounded pass; see QueueFinder). */
export async function discoverQueues(
  conn: RedisConnection,
  prefix: string,
  options: QueueDiscoveryOptions = {},
): Promise<QueueDiscovery> {
  return new QueueFinder(conn, prefix, options).find();
}

/** How many items one queue holds where. */
export interface QueueCountsInfo {
  readonly name: string;
  /** Waiting to be taken. */
  readonly pending: number;
  /** Taken by a worker and not finished (an expired lease puts the item back). */
  readonly processing: number;
  /** Used up their attempts. */
  readonly dead: number;
}

/** Reads the counts of the given queues (three LLEN per queue, sent at once). */
export async function readQueueCounts(
  conn: RedisConnection,
  prefix: string,
  names: readonly string[],
  timeoutMs?: number,
): Promise<QueueCountsInfo[]> {
  const keys = names.map((n) => queueKeys(prefix, n));
  const replies = await sendAll(
    conn,
    keys.flatMap((k) => [
      { args: ['LLEN', k.pending], key: k.pending },
      { args: ['LLEN', k.processing], key: k.processing },
      { args: ['LLEN', k.dead], key: k.dead },
    ]),
    timeoutMs,
  );
  const count = (at: number): number => {
    const r = replies[at];
    if (r instanceof Error) throw r;
    return Number(r);
  };
  return names.map((name, i) => ({
    name,
    pending: count(i * 3),
    processing: count(i * 3 + 1),
    dead: count(i * 3 + 2),
  }));
}

export interface QueuesSnapshotOptions extends QueueDiscoveryOptions {
  /** Queues always read, found or not. */
  readonly queues?: readonly string[];
  /** Queues reported at most, the first by name. Default DEFAULT_MAX_QUEUES. */
  readonly maxQueues?: number;
}

export interface QueuesSnapshot {
  readonly queues: readonly QueueCountsInfo[];
  /** Queues found but left out by maxQueues. */
  readonly omitted: number;
  /** False until discovery completed one full SCAN pass: some queues may be missing. */
  readonly complete: boolean;
  readonly commands: number;
}

/** The queues under `prefix` (found, plus those named) and their counts. */
export async function queuesSnapshot(
  conn: RedisConnection,
  prefix: string,
  options: QueuesSnapshotOptions = {},
  finder: QueueFinder = new QueueFinder(conn, prefix, options),
): Promise<QueuesSnapshot> {
  const found = await finder.find();
  const all = [...new Set([...found.names, ...(options.queues ?? [])])].sort();
  const max = options.maxQueues ?? DEFAULT_MAX_QUEUES;
  const shown = all.slice(0, max);
  const queues = await readQueueCounts(conn, prefix, shown, options.timeoutMs);
  return {
    queues,
    omitted: all.length - shown.length,
    complete: found.complete,
    commands: found.commands + shown.length * 3,
  };
}
