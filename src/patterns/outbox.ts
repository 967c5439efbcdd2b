/**
 * A transactional outbox on a Redis hash: a service stages the events its
 * state change announces in the same atomic step (Lua script or MULTI) as the
 * change itself, then publishes them. A crash between the change and the
 * publish loses nothing: the staged events stay in the hash and the next
 * flush (at start-up, on a timer, or after the next change) publishes them.
 *
 * Entries carry explicit event ids, so publishing one twice (two flushes
 * racing, a crash after the publish but before the entry was removed) stores
 * it once within the topic's dedupe window, and idempotent consumers
 * (`idempotent()`) absorb any later copy.
 *
 * Layout: hash `<key>`, field = event id, value = JSON `{ topic, id, type?, key?, data }`.
 */
import { toError } from '../core/error-text.ts';
import type { Publisher } from '../core/contract.ts';
import { ConfigError } from '../core/errors.ts';
import type { Topic } from '../core/topic.ts';
import type { Args, RedisConnection } from '../redis/connection.ts';

/** One staged event. */
export interface OutboxEntry {
  readonly topic: string;
  readonly id: string;
  readonly type?: string;
  readonly key?: string;
  readonly data: unknown;
}

export interface OutboxOptions {
  readonly conn: RedisConnection;
  readonly publisher: Publisher;
  /** The hash holding staged events, e.g. `payments:outbox`. */
  readonly key: string;
  /** The topics entries may name. */
  readonly topics: readonly Topic<unknown>[];
  /** Period of the background flush started by `start()`. Default 2 s. */
  readonly intervalMs?: number;
  /** Errors of the background flush (it tries again on the next tick). */
  readonly onError?: (error: Error) => void;
}

export class Outbox {
  readonly key: string;
  private readonly topics = new Map<string, Topic<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<number> | undefined;

  constructor(private readonly options: OutboxOptions) {
    if (options.key === '') throw new ConfigError('outbox: key is empty');
    this.key = options.key;
    for (const t of options.topics) this.topics.set(t.name, t);
  }

  /** The JSON stored for an entry (what a Lua script writes as the hash value). */
  static encode(entry: OutboxEntry): string {
    return JSON.stringify(entry);
  }

  /** The command that stages `entry`, for a MULTI or `idempotent().commit`. */
  stage(entry: OutboxEntry): Args {
    if (!this.topics.has(entry.topic)) {
      throw new ConfigError(`outbox '${this.key}': unknown topic '${entry.topic}'`);
    }
    return ['HSET', this.key, entry.id, Outbox.encode(entry)];
  }

  /** Number of staged events not yet published. */
  async pending(): Promise<number> {
    return Number(await this.options.conn.send(['HLEN', this.key]));
  }

  /**
   * Publishes staged events (those with the given ids, or all of them) and
   * removes each once stored. Resolves to the number published; rejects when a
   * publish failed (the failed entries stay staged).
   */
  async flush(ids?: readonly string[]): Promise<number> {
    const { conn, publisher } = this.options;
    let staged: [string, string][];
    if (ids === undefined) {
      const all = await conn.send<Record<string, string> | string[]>(['HGETALL', this.key]);
      staged = Array.isArray(all)
        ? Array.from(
            { length: all.length / 2 },
            (_, i) => [all[2 * i], all[2 * i + 1]] as [string, string],
          )
        : Object.entries(all);
    } else {
      if (ids.length === 0) return 0;
      const values = await conn.send<(string | null)[]>(['HMGET', this.key, ...ids]);
      staged = [];
      ids.forEach((id, i) => {
        const v = values[i];
        if (typeof v === 'string') staged.push([id, v]);
      });
    }
    if (staged.length === 0) return 0;
    const results = await Promise.allSettled(
      staged.map(async ([id, json]) => {
        const entry = JSON.parse(json) as OutboxEntry;
        const topic = this.topics.get(entry.topic);
        if (!topic)
          throw new ConfigError(
            `outbox '${this.key}': entry ${id} names unknown topic '${entry.topic}'`,
          );
        await publisher.publish(topic, {
          id: entry.id,
          data: entry.data,
          ...(entry.type === undefined ? {} : { type: entry.type }),
          ...(entry.key === undefined ? {} : { key: entry.key }),
        });
        return id;
      }),
    );
    const published = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    if (published.length > 0) await conn.send(['HDEL', this.key, ...published]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    return published.length;
  }

  /** Flushes everything now and then every `intervalMs` until `close()`. */
  start(): void {
    if (this.timer) return;
    const tick = () => {
      this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
      this.flushing.catch((e: unknown) => this.options.onError?.(toError(e)));
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs ?? 2000);
    this.timer.unref();
  }

  /** Stops the background flush and waits for one in progress. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flushing?.catch(() => {});
  }
}
