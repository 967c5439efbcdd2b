/**
 * The book-lending service, wire-compatible with the reference implementation
 * of the book "Redis Microservices for Dummies": any client that speaks its
 * streams and keys (redis-cli, the book's Python code) works with this one.
 *
 * Streams (consumer group `lending_service`), entries with fields `user_id`
 * and `book_ids` (comma separated):
 *   lending_requests_event_stream       a user asks for books
 *   book_return_requests_event_stream   a user brings books back
 *   books_for_shelving_event_stream     returned books that do not fit back into
 *                                       automated storage (one entry per book, field `book_id`)
 * State:
 *   automated_book_storage   set of book ids, at most 20 (capacity)
 *   lent_books               hash book id -> user id
 *   user:{id}:count          books a user holds, at most 5
 *   request:{id}:temp        books reserved by a request in progress
 *
 * Lending a request: (1) reserve the books atomically (lending-reserve.lua) in
 * the request's own set: a crash after this step leaves the set behind and the
 * redelivered request resumes from it; (2) commit with optimistic locking: WATCH
 * the user's count, and in MULTI/EXEC add the books to lent_books, raise the
 * count, drop the reservation and record the request as handled. A concurrent
 * request by the same user changes the count and makes EXEC fail: we retry and
 * see the new count, so parallel requests cannot go past the limit. A request
 * that would go past it is denied as a whole and its books are given back.
 *
 * A requested book that is neither lent nor in automated storage is on the
 * shelves: the library fetches it from there and lends it (the reference asks
 * its shelving service, which we model as always having the book). A book that
 * is lent, or reserved by another request in flight, is skipped; a request for
 * which no book can be found is denied.
 *
 * Key names are the book's; `prefix` (default '') puts all of them under a
 * prefix, for tests and for running several libraries on one Redis.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/lending/service.ts
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import {
  isWatchConflict,
  defineTopic,
  RedisBackend,
  idempotent,
  loadScript,
  runScript,
  type Delivery,
  type RedisConnection,
  type Topic,
} from '../../src/index.ts';
import { isMain, runAsMain, type RunningService } from '../saga/runtime.ts';

const folder = new URL('./lua/', import.meta.url);
const reserveScript = loadScript('lending-reserve', folder);
const restockScript = loadScript('lending-restock', folder);
const returnScript = loadScript('lending-return', folder);

export const STORAGE_CAPACITY = 20;
export const MAX_BOOKS_PER_USER = 5;
export const CONSUMER_GROUP = 'lending_service';

/** The book's key names, under an optional prefix. */
export function lendingKeys(prefix = '') {
  return {
    requests: `${prefix}lending_requests_event_stream`,
    returns: `${prefix}book_return_requests_event_stream`,
    shelving: `${prefix}books_for_shelving_event_stream`,
    storage: `${prefix}automated_book_storage`,
    lent: `${prefix}lent_books`,
    userCount: (user: string) => `${prefix}user:${user}:count`,
    requestTemp: (requestId: string) => `${prefix}request:${requestId}:temp`,
    /** Ours, not the book's: which request holds a book while it is being lent. */
    reservations: `${prefix}lending_service:reservations`,
    /** Ours: one idempotency record per handled request, `done:<outcome>`. */
    processed: `${prefix}lending_service:processed`,
  };
}

const entrySchema = z.object({ user_id: z.string().min(1), book_ids: z.string() });
export type LendingEntry = z.infer<typeof entrySchema>;

/** The topics bound to the book's streams (raw field entries, as redis-cli writes them). */
export function lendingTopics(prefix = '') {
  const keys = lendingKeys(prefix);
  return {
    requests: defineTopic({
      name: 'lending-requests',
      streamKey: keys.requests,
      codec: 'raw',
      schema: entrySchema,
    }),
    returns: defineTopic({
      name: 'book-returns',
      streamKey: keys.returns,
      codec: 'raw',
      schema: entrySchema,
    }),
  };
}

export interface LendingOptions {
  readonly redisUrl: string;
  /** Prefix of the book's keys. Default '' (the book's names exactly). */
  readonly prefix?: string;
  readonly heraldPrefix?: string;
  /** This instance's consumer name; keep it across restarts to resume its own pending requests at once. */
  readonly consumer?: string;
  readonly concurrency?: number;
  readonly visibilityTimeoutMs?: number;
  readonly capacity?: number;
  readonly maxPerUser?: number;
  /** Print each decision, as the reference does. Default true. */
  readonly log?: boolean;
  /** Fault injection for tests: called after a request's books were reserved, before the commit. */
  readonly afterReserve?: (requestId: string) => void;
}

/** The books of a request: trimmed, without blanks or repeats. */
export function parseBookIds(bookIds: string): string[] {
  return [
    ...new Set(
      bookIds
        .split(',')
        .map((b) => b.trim())
        .filter((b) => b !== ''),
    ),
  ];
}

/** The outcome recorded for a handled request ('ACCEPTED a,b', 'DENIED …', 'RETURNED n'), if handled. */
export async function outcomeOf(
  conn: RedisConnection,
  prefix: string,
  topic: Topic<unknown>,
  position: string,
): Promise<string | undefined> {
  const v = await conn.send<string | null>([
    'GET',
    `${lendingKeys(prefix).processed}:${topic.name}:0:${position}`,
  ]);
  return typeof v === 'string' && v.startsWith('done') ? v.slice(5) : undefined;
}

/** Fills automated storage with `books` (up to its capacity), unless it holds books already. */
export async function seedStorage(
  conn: RedisConnection,
  books: readonly string[],
  prefix = '',
  capacity = STORAGE_CAPACITY,
): Promise<void> {
  const { storage } = lendingKeys(prefix);
  if (Number(await conn.send(['EXISTS', storage])) === 1 || books.length === 0) return;
  await conn.send(['SADD', storage, ...books.slice(0, capacity)]);
}

type WatchClient = {
  watch(keys: string[]): Promise<unknown>;
  unwatch(): Promise<unknown>;
  get(key: string): Promise<string | null>;
  multi(): { addCommand(args: string[]): unknown; exec(): Promise<unknown[]> };
};

/** Dedicated connections for WATCH/MULTI: a watch belongs to its connection, so each transaction needs its own. */
class WatchPool {
  private readonly idle: RedisConnection[] = [];
  private readonly all: RedisConnection[] = [];
  constructor(private readonly conn: RedisConnection) {}

  async use<T>(fn: (client: WatchClient) => Promise<T>): Promise<T> {
    let c = this.idle.pop();
    if (!c) {
      c = await this.conn.duplicate();
      this.all.push(c);
    }
    try {
      return await fn(c.raw as WatchClient);
    } finally {
      this.idle.push(c);
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.all.map((c) => c.close()));
  }
}

export async function startLendingService(options: LendingOptions): Promise<RunningService> {
  const prefix = options.prefix ?? '';
  const keys = lendingKeys(prefix);
  const topics = lendingTopics(prefix);
  const capacity = options.capacity ?? STORAGE_CAPACITY;
  const maxPerUser = options.maxPerUser ?? MAX_BOOKS_PER_USER;
  const visibilityTimeoutMs = options.visibilityTimeoutMs ?? 10_000;
  const log = options.log === false ? () => {} : (line: string) => console.log(line);

  const backend = await RedisBackend.connect({
    url: options.redisUrl,
    prefix: options.heraldPrefix ?? 'herald',
    source: 'lending_service',
  });
  const conn = backend.conn;
  const pool = new WatchPool(conn);
  const guard = idempotent<LendingEntry>({
    conn,
    prefix: keys.processed,
    leaseMs: visibilityTimeoutMs,
    ttlMs: 7 * 24 * 3_600_000,
  });
  const ttl = String(guard.ttlMs);

  async function lend(e: Delivery<LendingEntry>): Promise<void> {
    const requestId = e.delivery.position;
    const user = e.data.user_id;
    const wanted = parseBookIds(e.data.book_ids);
    const temp = keys.requestTemp(requestId);
    const record = guard.recordKey(e);
    const [fromStorage, fromShelves, resumed] = await runScript<[string[], string[], string[]]>(
      conn,
      reserveScript,
      [temp, keys.storage, keys.lent, keys.reservations],
      [requestId, ...wanted],
    );
    if (resumed.length > 0)
      log(
        `Request [${requestId}] by ${user}: resuming, ${resumed.length} book(s) reserved before a crash`,
      );
    options.afterReserve?.(requestId);
    const found = [...resumed, ...fromStorage, ...fromShelves];
    const deny = async (reason: string) => {
      await runScript(
        conn,
        restockScript,
        [temp, keys.storage, keys.shelving, keys.reservations, record],
        [String(capacity), ttl, `done:DENIED ${reason}`],
      );
      log(`Request [${requestId}] by ${user} DENIED: ${reason}`);
    };
    if (found.length === 0) return deny('none of the requested books is available');

    const countKey = keys.userCount(user);
    await pool.use(async (client) => {
      // Optimistic locking: retry until the user's count did not change under us.
      for (;;) {
        await client.watch([countKey, record]);
        const done = await client.get(record);
        if (done?.startsWith('done')) {
          await client.unwatch();
          return;
        }
        const inHand = Number((await client.get(countKey)) ?? 0);
        if (inHand + found.length > maxPerUser) {
          await client.unwatch();
          return deny(
            `too many books (has ${inHand}, ${found.length} found of ${wanted.length} requested, limit ${maxPerUser})`,
          );
        }
        const tx = client.multi();
        tx.addCommand(['INCRBY', countKey, String(found.length)]);
        tx.addCommand(['HSET', keys.lent, ...found.flatMap((b) => [b, user])]);
        tx.addCommand(['HDEL', keys.reservations, ...found]);
        tx.addCommand(['DEL', temp]);
        tx.addCommand(['SET', record, `done:ACCEPTED ${found.join(',')}`, 'PX', ttl]);
        try {
          await tx.exec();
        } catch (err) {
          if (isWatchConflict(err)) continue;
          throw err;
        }
        log(`Request [${requestId}] by ${user} ACCEPTED: ${found.join(', ')}`);
        return;
      }
    });
  }

  async function takeBack(e: Delivery<LendingEntry>): Promise<void> {
    const user = e.data.user_id;
    const [returned, stored, shelved] = await runScript<[number, number, number]>(
      conn,
      returnScript,
      [keys.lent, keys.userCount(user), keys.storage, keys.shelving, guard.recordKey(e)],
      [user, String(capacity), ttl, ...parseBookIds(e.data.book_ids)],
    );
    if (returned >= 0) {
      log(
        `Book return [${e.delivery.position}] by ${user}: ${returned} returned, ${stored} to storage, ${shelved} for shelving`,
      );
    }
  }

  const subscribeOptions = {
    group: CONSUMER_GROUP,
    consumer: options.consumer ?? `lending-${hostname()}`,
    concurrency: options.concurrency ?? 4,
    visibilityTimeoutMs,
    startFrom: 'beginning' as const,
    middleware: [guard],
  };
  const subs = [
    backend.subscribe(topics.requests, subscribeOptions, lend),
    backend.subscribe(topics.returns, subscribeOptions, takeBack),
  ];
  await Promise.all(subs.map((s) => s.ready));
  return {
    name: 'lending',
    async close() {
      await backend.close({ deadlineMs: 5000 });
      await pool.close();
    },
  };
}

/** Books the demo puts in automated storage. */
export const DEMO_BOOKS: readonly string[] = [
  'ofmiceandmen',
  'thegreatgatsby',
  'mobydick',
  'dune',
  'neuromancer',
  'emma',
  'ulysses',
  'middlemarch',
  'beloved',
  'frankenstein',
  'dracula',
  'thehobbit',
];

if (isMain(import.meta.url)) {
  runAsMain('lending', async () => {
    const prefix = process.env.LENDING_PREFIX ?? '';
    const fault = process.env.LENDING_FAULT;
    const service = await startLendingService({
      redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
      prefix,
      heraldPrefix: process.env.HERALD_PREFIX ?? 'herald',
      ...(process.env.LENDING_CONSUMER ? { consumer: process.env.LENDING_CONSUMER } : {}),
      visibilityTimeoutMs: Number(process.env.VISIBILITY_MS ?? 10_000),
      // Fault injection for the crash test: die like a killed process, between reserving and committing.
      ...(fault === 'crash-after-reserve'
        ? { afterReserve: () => process.kill(process.pid, 'SIGKILL') }
        : {}),
    });
    return service;
  });
}
