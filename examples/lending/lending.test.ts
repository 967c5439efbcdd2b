import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { connectRedis, RedisBackend, type RedisConnection } from '../../src/index.ts';
import { toRecord } from '../../src/redis/replies.ts';
import {
  startRedisServer,
  testRedisUrl,
  uniquePrefix,
  waitFor,
} from '../../src/test-support/redis.ts';
import type { RunningService } from '../saga/runtime.ts';
import { spawnService, until } from '../saga/test-support.ts';
import {
  lendingKeys,
  lendingTopics,
  outcomeOf,
  seedStorage,
  startLendingService,
} from './service.ts';

const run = promisify(execFile);

describe('lending service', () => {
  let conn: RedisConnection;
  let backend: RedisBackend;
  const services: RunningService[] = [];
  const publishers: RedisBackend[] = [];

  before(async () => {
    conn = await connectRedis({ url: testRedisUrl() });
    backend = await RedisBackend.connect({
      url: testRedisUrl(),
      prefix: uniquePrefix('lending-herald'),
    });
  });
  after(async () => {
    await Promise.all(services.map((s) => s.close()));
    await Promise.all(publishers.map((p) => p.close()));
    await backend.close();
    await conn.close();
  });

  /** A library of its own: keys under a fresh prefix, one service instance (or more). */
  async function library(instances = 1, options: { capacity?: number } = {}) {
    const prefix = `${uniquePrefix('lib')}:`;
    const heraldPrefix = uniquePrefix('lending-herald');
    for (let i = 0; i < instances; i++) {
      services.push(
        await startLendingService({
          redisUrl: testRedisUrl(),
          prefix,
          heraldPrefix,
          consumer: `lender-${i}`,
          log: false,
          ...options,
        }),
      );
    }
    const keys = lendingKeys(prefix);
    const topics = lendingTopics(prefix);
    // A client of its own: one client maps a topic name to one stream.
    const publisher = await RedisBackend.connect({ url: testRedisUrl(), prefix: heraldPrefix });
    publishers.push(publisher);
    const ask = async (kind: 'requests' | 'returns', user: string, books: string) => {
      const receipt = await publisher.publish(topics[kind], {
        data: { user_id: user, book_ids: books },
      });
      return until(() => outcomeOf(conn, prefix, topics[kind], receipt.position), {
        timeoutMs: 20_000,
        message: `${kind} by ${user} handled`,
      });
    };
    return {
      prefix,
      keys,
      request: (user: string, books: string) => ask('requests', user, books),
      giveBack: (user: string, books: string) => ask('returns', user, books),
      lent: async () => toRecord(await conn.send(['HGETALL', keys.lent])),
      count: async (user: string) => Number((await conn.send(['GET', keys.userCount(user)])) ?? 0),
      storage: async () => (await conn.send<string[]>(['SMEMBERS', keys.storage])).sort(),
      shelved: async () =>
        (await conn.send<[string, string[]][]>(['XRANGE', keys.shelving, '-', '+'])).map(
          ([, f]) => f[1],
        ),
    };
  }

  test('a user holds at most 5 books: a request that would pass the limit is denied as a whole', async () => {
    const lib = await library();
    await seedStorage(conn, ['a', 'b', 'c', 'd', 'e', 'f'], lib.prefix);
    assert.equal(await lib.request('ann', 'a,b,c'), 'ACCEPTED a,b,c');
    assert.match(await lib.request('ann', 'd,e,f'), /^DENIED too many books \(has 3, 3 found/);
    assert.equal(await lib.count('ann'), 3);
    assert.deepEqual(await lib.storage(), ['d', 'e', 'f'], 'the denied books went back to storage');
    assert.match(await lib.request('ann', 'd,e'), /^ACCEPTED/);
    assert.equal(await lib.count('ann'), 5);
    assert.deepEqual(await lib.lent(), { a: 'ann', b: 'ann', c: 'ann', d: 'ann', e: 'ann' });
    assert.equal(await lib.request('bob', 'a'), 'DENIED none of the requested books is available');
    assert.equal(await conn.send(['HLEN', lib.keys.reservations]), 0);
  });

  test('books not in storage come from the shelves; returns refill storage up to 20, the rest go to shelving', async () => {
    const lib = await library();
    const stored = Array.from({ length: 20 }, (_, i) => `s${i + 1}`);
    await seedStorage(conn, stored, lib.prefix);
    assert.equal(await lib.request('ann', 's1,s2,s3'), 'ACCEPTED s1,s2,s3');
    const bob = await lib.request('bob', 'x1,x2');
    assert.match(bob, /^ACCEPTED/);
    assert.deepEqual(
      bob.slice('ACCEPTED '.length).split(',').sort(),
      ['x1', 'x2'],
      'fetched from the shelves',
    );
    assert.equal((await lib.storage()).length, 17);
    // Bob brings his back while storage has room; Ann's three then fill it to 20… and one more does not fit.
    await conn.send(['SADD', lib.keys.storage, 'n1']);
    assert.equal(await lib.giveBack('bob', 'x1,x2'), 'RETURNED 2');
    assert.equal((await lib.storage()).length, 20);
    assert.equal(await lib.giveBack('ann', 's1,s2,s3,notmine'), 'RETURNED 3');
    assert.equal((await lib.storage()).length, 20, 'storage never holds more than its capacity');
    assert.deepEqual((await lib.shelved()).sort(), ['s1', 's2', 's3']);
    assert.deepEqual(await lib.lent(), {});
    assert.equal(await lib.count('ann'), 0);
    assert.equal(await lib.count('bob'), 0);
  });

  test('parallel requests by one user (two instances) never pass the limit', async () => {
    const lib = await library(2);
    const books = Array.from({ length: 24 }, (_, i) => `p${i}`);
    await seedStorage(conn, books.slice(0, 12), lib.prefix);
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        lib.request('greedy', `${books[2 * i]},${books[2 * i + 1]}`),
      ),
    );
    const accepted = outcomes.filter((o) => o.startsWith('ACCEPTED'));
    assert.equal(accepted.length, 2, outcomes.join('\n'));
    assert.equal(await lib.count('greedy'), 4);
    assert.equal(Object.keys(await lib.lent()).length, 4);
    assert.equal(await conn.send(['HLEN', lib.keys.reservations]), 0, 'no reservation left behind');
    assert.deepEqual(await conn.send(['KEYS', `${lib.prefix}request:*`]), []);
    // Every book that was not lent is back in storage (up to its capacity) or on its way to the shelves.
    const storage = await lib.storage();
    assert.ok(storage.length <= 20);
    assert.equal(storage.length + (await lib.shelved()).length, 24 - 4);
  });

  test('a crash between reserving and committing: the restarted service resumes the request', async () => {
    const prefix = `${uniquePrefix('lib')}:`;
    const heraldPrefix = uniquePrefix('lending-herald');
    const keys = lendingKeys(prefix);
    await seedStorage(conn, ['dune', 'emma'], prefix);
    const env = {
      REDIS_URL: testRedisUrl(),
      LENDING_PREFIX: prefix,
      HERALD_PREFIX: heraldPrefix,
      LENDING_CONSUMER: 'lender',
      VISIBILITY_MS: '1500',
    };
    const doomed = await spawnService('../lending/service.ts', {
      ...env,
      LENDING_FAULT: 'crash-after-reserve',
    });
    const exit = new Promise((resolve) =>
      doomed.child.once('exit', (_code, signal) => resolve(signal)),
    );
    const topics = lendingTopics(prefix);
    const receipt = await backend.publish(topics.requests, {
      data: { user_id: 'cat', book_ids: 'dune,emma,ulysses' },
    });
    assert.equal(await exit, 'SIGKILL');
    // What the crash left: the books reserved in the request's set, nothing lent.
    const temp = keys.requestTemp(receipt.position);
    assert.deepEqual((await conn.send<string[]>(['SMEMBERS', temp])).sort(), [
      'dune',
      'emma',
      'ulysses',
    ]);
    assert.equal(await conn.send(['SCARD', keys.storage]), 0);
    assert.equal(await conn.send(['HLEN', keys.lent]), 0);

    services.push(
      await startLendingService({
        redisUrl: testRedisUrl(),
        prefix,
        heraldPrefix,
        consumer: 'lender',
        visibilityTimeoutMs: 1500,
        log: false,
      }),
    );
    const outcome = await until(() => outcomeOf(conn, prefix, topics.requests, receipt.position), {
      timeoutMs: 20_000,
      message: 'the request is resumed',
    });
    assert.match(outcome, /^ACCEPTED /);
    assert.deepEqual(toRecord(await conn.send(['HGETALL', keys.lent])), {
      dune: 'cat',
      emma: 'cat',
      ulysses: 'cat',
    });
    assert.equal(await conn.send(['GET', keys.userCount('cat')]), '3');
    assert.equal(await conn.send(['EXISTS', temp]), 0);
    assert.equal(await conn.send(['HLEN', keys.reservations]), 0);
  });

  test('the CLI requests and returns books', async () => {
    const lib = await library();
    const cli = fileURLToPath(new URL('./cli.ts', import.meta.url));
    const env = { ...process.env, REDIS_URL: testRedisUrl(), LENDING_PREFIX: lib.prefix };
    const ask = (...args: string[]) =>
      run(process.execPath, ['--import', 'tsx', cli, ...args], { env });
    assert.match(
      (await ask('request', 'dan', 'dracula,beloved', '--wait')).stdout,
      /ACCEPTED (dracula,beloved|beloved,dracula)/,
    );
    assert.match((await ask('status', 'dan')).stdout, /dan holds 2 book\(s\)/);
    assert.match((await ask('return', 'dan', 'dracula', '--wait')).stdout, /RETURNED 1/);
    assert.deepEqual(await lib.lent(), { beloved: 'dan' });
  });
});

describe("lending service on the book's own key names", () => {
  test("redis-cli XADD lending_requests_event_stream '*' user_id Salvatore book_ids ofmiceandmen is processed", async () => {
    const server = await startRedisServer({ appendonly: false });
    let service: RunningService | undefined;
    const conn = await connectRedis({ url: server.url });
    try {
      await seedStorage(conn, ['ofmiceandmen', 'dune']);
      service = await startLendingService({ redisUrl: server.url, log: false });
      await run('/usr/bin/redis-cli', [
        '-p',
        String(server.port),
        'XADD',
        'lending_requests_event_stream',
        '*',
        'user_id',
        'Salvatore',
        'book_ids',
        'ofmiceandmen',
      ]);
      await waitFor(
        async () => (await conn.send(['HGET', 'lent_books', 'ofmiceandmen'])) === 'Salvatore',
        {
          message: 'lent_books maps ofmiceandmen to Salvatore',
        },
      );
      assert.equal(await conn.send(['GET', 'user:Salvatore:count']), '1');
      assert.deepEqual(await conn.send(['SMEMBERS', 'automated_book_storage']), ['dune']);
      const groups = await conn.send<unknown[]>([
        'XINFO',
        'GROUPS',
        'lending_requests_event_stream',
      ]);
      assert.equal(toRecord(groups[0]).name, 'lending_service');
    } finally {
      await service?.close();
      await conn.close();
      await server.stop();
    }
  });
});
