/**
 * Reliable work queues on Redis lists (at-least-once; see src/core/queue.ts for
 * the guarantees, queue-items.ts for the key layout, queue-worker.ts for how
 * items are taken, leased, finished and recovered).
 *
 * Where an item can be at any moment, and what a crash there means:
 * - pending: not taken yet. Safe.
 * - processing + lease: taken by a worker (queue-take does both in one atomic
 *   script, so there is no "taken but not leased" window). If the worker dies,
 *   the lease runs out and any worker's reaper puts the item back (attempt+1):
 *   handled again, never lost.
 * - finished: queue-ack removes the item and its lease in one atomic script. A
 *   worker that dies after its handler succeeded but before the ack lands
 *   causes the one duplicate delivery at-least-once allows.
 * A push is one LPUSH per batch (up to 10,000 items a command, pipelined): a
 * push that rejects with a connection error may or may not have been stored.
 */
import { ConfigError } from '../core/errors.ts';
import type {
  DeadItem,
  JobHandler,
  QueueCounts,
  QueueOptions,
  Queues,
  WorkOptions,
  Worker,
  WorkQueue,
} from '../core/queue.ts';
import { validate } from '../core/schema.ts';
import type { RedisConnection } from './connection.ts';
import { toHeraldError } from './errors.ts';
import { decodeDead, encodeItem, queueKeys, type QueueKeys } from './queue-items.ts';
import { QueueWorker } from './queue-worker.ts';

const PUSH_CHUNK = 10_000;

export class RedisWorkQueue<T> implements WorkQueue<T> {
  private readonly keys: QueueKeys;

  constructor(
    private readonly conn: RedisConnection,
    prefix: string,
    readonly name: string,
    private readonly options: QueueOptions<T>,
    private readonly workers: Set<Worker>,
  ) {
    this.keys = queueKeys(prefix, name);
  }

  async push(items: T | readonly T[]): Promise<number> {
    const list: readonly unknown[] = Array.isArray(items) ? items : [items];
    if (list.length === 0) return this.size();
    const schema = this.options.schema;
    const values = schema
      ? await Promise.all(list.map((v, i) => validate(schema, v, `queue '${this.name}' item ${i}`)))
      : list;
    const now = Date.now();
    // Encode everything first: an item that cannot be encoded rejects the push before anything is written.
    const encoded = values.map((v) => encodeItem(v, now));
    const commands: string[][] = [];
    for (let i = 0; i < encoded.length; i += PUSH_CHUNK) {
      commands.push(['LPUSH', this.keys.pending, ...encoded.slice(i, i + PUSH_CHUNK)]);
    }
    const replies = await this.conn.pipeline(commands, { key: this.keys.pending });
    const failed = replies.find((r) => r instanceof Error);
    if (failed) throw toHeraldError(failed, `push to queue '${this.name}'`);
    return replies[replies.length - 1] as number;
  }

  async size(): Promise<number> {
    return this.send<number>(['LLEN', this.keys.pending], 'size of');
  }

  async counts(): Promise<QueueCounts> {
    const replies = await this.conn.pipeline(
      [
        ['LLEN', this.keys.pending],
        ['LLEN', this.keys.processing],
        ['LLEN', this.keys.dead],
      ],
      { key: this.keys.pending },
    );
    const failed = replies.find((r) => r instanceof Error);
    if (failed) throw toHeraldError(failed, `counts of queue '${this.name}'`);
    const [pending, processing, dead] = replies as number[];
    return { pending: pending ?? 0, processing: processing ?? 0, dead: dead ?? 0 };
  }

  async dead(limit = 100): Promise<DeadItem<T>[]> {
    if (!Number.isInteger(limit) || limit < 1)
      throw new ConfigError(`dead(limit): limit must be a positive integer, got ${limit}`);
    // The dead list grows at the head: its oldest entries are at the tail.
    const raw = await this.send<string[]>(
      ['LRANGE', this.keys.dead, String(-limit), '-1'],
      'dead list of',
    );
    return raw
      .reverse()
      .map((r) => decodeDead<T>(r))
      .filter((d): d is DeadItem<T> => d !== undefined);
  }

  work(handler: JobHandler<T>, options: WorkOptions = {}): Worker {
    if (typeof handler !== 'function')
      throw new ConfigError('work(handler): handler must be a function');
    const worker: Worker = new QueueWorker<T>(
      this.conn,
      this.name,
      this.keys,
      handler,
      options,
      () => this.workers.delete(worker),
    );
    this.workers.add(worker);
    return worker;
  }

  private async send<R>(args: string[], what: string): Promise<R> {
    try {
      return await this.conn.send<R>(args, { key: this.keys.pending });
    } catch (e) {
      throw toHeraldError(e, `${what} queue '${this.name}'`);
    }
  }
}

/** Opens work queues on a Redis connection; every queue's keys start with `prefix`. */
export class RedisQueueFactory implements Queues {
  private readonly workers = new Set<Worker>();

  constructor(
    private readonly conn: RedisConnection,
    private readonly prefix: string,
  ) {}

  queue<T = unknown>(name: string, options: QueueOptions<T> = {}): WorkQueue<T> {
    return new RedisWorkQueue<T>(this.conn, this.prefix, name, options, this.workers);
  }

  /** Closes every worker started through this object's queues (each with the deadline). */
  async close(options?: { deadlineMs?: number }): Promise<void> {
    await Promise.all([...this.workers].map((w) => w.close(options)));
  }
}
