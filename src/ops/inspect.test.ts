import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError } from '../core/errors.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import {
  allGroupStats,
  groupStats,
  idMs,
  listTopics,
  parseInfo,
  progressStall,
  resolveLag,
} from './inspect.ts';

void describe('inspect', () => {
  let backend: RedisBackend;
  const orders = defineTopic({ name: 'orders', partitions: 2 });
  const legacy = defineTopic({
    name: 'legacy',
    streamKey: `legacy-stream-${Date.now()}`,
    codec: 'raw',
  });
  const stream = (t: Topic<unknown>, p = 0) => partitionKeys(backend.prefix, t, p).stream;
  const send = (...args: string[]) => backend.conn.send(args);

  before(async () => {
    backend = await RedisBackend.connect({ url: testRedisUrl(), prefix: uniquePrefix('inspect') });
    await backend.publishBatch(
      orders,
      Array.from({ length: 40 }, (_, i) => ({ data: { i }, key: `k${i}` })),
    );
    await backend.publish(legacy, { data: { a: '1' } });
    for (let p = 0; p < 2; p++) {
      await send('XGROUP', 'CREATE', stream(orders, p), 'billing', '0');
      // worker-1 reads 5 on each partition, worker-2 reads 3 more on partition 0 only.
      await send(
        'XREADGROUP',
        'GROUP',
        'billing',
        'worker-1',
        'COUNT',
        '5',
        'STREAMS',
        stream(orders, p),
        '>',
      );
    }
    await send(
      'XREADGROUP',
      'GROUP',
      'billing',
      'worker-2',
      'COUNT',
      '3',
      'STREAMS',
      stream(orders, 0),
      '>',
    );
    await send('XGROUP', 'CREATE', stream(orders, 1), 'audit', '$');
  });
  after(async () => {
    await backend.close();
  });

  void test('listTopics: partitions, lengths, memory, dead letters and groups of every topic', async () => {
    const topics = await listTopics(backend.conn, backend.prefix);
    assert.deepEqual(
      topics.map((t) => t.name),
      ['legacy', 'orders'],
    );
    const o = topics[1];
    assert.equal(o?.partitions, 2);
    assert.equal(o?.length, 40);
    assert.deepEqual(o?.groups, ['audit', 'billing']);
    assert.equal(o?.deadLetters, 0);
    assert.ok((o?.memoryBytes ?? 0) > 0);
    assert.deepEqual(
      o?.partitionInfo.map((p) => p.groups),
      [['billing'], ['audit', 'billing']],
    );
    assert.equal(topics[0]?.partitionInfo[0]?.stream, legacy.streamKey);
    assert.equal(topics[0]?.length, 1);
    const cheap = await listTopics(backend.conn, backend.prefix, { memory: false, maxTopics: 1 });
    assert.equal(cheap.length, 1);
    assert.equal(cheap[0]?.memoryBytes, null);
  });

  void test('groupStats: lag, pending, oldest pending and consumers, per partition and summed', async () => {
    const now = Date.now();
    const groups = await groupStats(backend.conn, backend.prefix, 'orders', { now });
    assert.deepEqual(
      groups.map((g) => g.group),
      ['audit', 'billing'],
    );
    const billing = groups[1];
    const lengths = [
      await backend.conn.send<number>(['XLEN', stream(orders, 0)]),
      await backend.conn.send<number>(['XLEN', stream(orders, 1)]),
    ];
    assert.equal(billing?.pending, 13);
    assert.equal(billing?.lag, 40 - 13);
    assert.deepEqual(
      billing?.partitions.map((p) => [p.partition, p.pending, p.lag]),
      [
        [0, 8, (lengths[0] ?? 0) - 8],
        [1, 5, (lengths[1] ?? 0) - 5],
      ],
    );
    const first =
      (
        await backend.conn.send<[string][]>(['XRANGE', stream(orders, 0), '-', '+', 'COUNT', '1'])
      )[0]?.[0] ?? '';
    assert.equal(billing?.partitions[0]?.oldestPendingId, first);
    assert.equal(billing?.partitions[0]?.oldestPendingAgeSeconds, (now - idMs(first)) / 1000);
    assert.deepEqual(billing?.consumers.map((c) => [c.name, c.pending]).sort(), [
      ['worker-1', 10],
      ['worker-2', 3],
    ]);
    const audit = groups[0];
    assert.equal(audit?.lag, 0);
    assert.equal(audit?.pending, 0);
    assert.equal(audit?.oldestPendingAgeSeconds, null);
    assert.deepEqual(
      audit?.partitions.map((p) => p.partition),
      [1],
    );
  });

  void test('seconds since progress: events waiting with no active consumer, versus an active one', async () => {
    // Ten minutes on: billing's consumers last read "10 minutes ago" as well, so it is stalled;
    // a fresh reader on partition 1 makes that partition progress again.
    const later = Date.now() + 600_000;
    const stalled = (await allGroupStats(backend.conn, backend.prefix, { now: later })).find(
      (g) => g.topic === 'orders' && g.group === 'billing',
    );
    const firstUnread = stalled?.partitions[0]?.firstUnreadId ?? '';
    assert.equal(
      stalled?.partitions[0]?.oldestUnreadAgeSeconds,
      (later - idMs(firstUnread)) / 1000,
    );
    // Redis's idle clock does not move with `now`: the consumers read less than 120 s ago.
    assert.ok((stalled?.secondsSinceProgress ?? 0) < 120, 'capped by the consumers idle time');
    assert.equal(
      progressStall([600, null], []),
      600,
      'nobody to read: the longest wait is the stall',
    );
    assert.equal(progressStall([600, 30], [{ name: 'c', pending: 0, idleSeconds: 2 }]), 2);
    assert.equal(progressStall([null, null], []), 0, 'nothing waits: idle, not stalled');
  });

  void test('resolveLag trusts Redis only where the count agrees', () => {
    assert.deepEqual(resolveLag(6412, undefined), {
      lag: 0,
      lagAtLeast: false,
      redisLagWrong: true,
    });
    assert.deepEqual(resolveLag(0, undefined), { lag: 0, lagAtLeast: false, redisLagWrong: false });
    const count = (n: number) => ({ count: n, limit: 100, firstId: '1-0' });
    assert.deepEqual(resolveLag(650, count(12)), {
      lag: 12,
      lagAtLeast: false,
      redisLagWrong: true,
    });
    assert.deepEqual(resolveLag(10, count(12)), {
      lag: 12,
      lagAtLeast: false,
      redisLagWrong: false,
    });
    assert.deepEqual(resolveLag(null, count(12)), {
      lag: 12,
      lagAtLeast: false,
      redisLagWrong: false,
    });
    assert.deepEqual(resolveLag(5000, count(100)), {
      lag: 5000,
      lagAtLeast: false,
      redisLagWrong: false,
    });
    assert.deepEqual(resolveLag(50, count(100)), {
      lag: 100,
      lagAtLeast: true,
      redisLagWrong: false,
    });
  });

  void test('a lag above the count limit is reported as a lower bound', async () => {
    const [billing] = (
      await groupStats(backend.conn, backend.prefix, 'orders', { lagCountLimit: 3 })
    ).filter((g) => g.group === 'billing');
    // Redis's own figure (above the limit, consistent with the count) stands.
    assert.equal(billing?.lag, 40 - 13);
    assert.equal(billing?.lagAtLeast, false);
  });

  void test('groupStats of an unknown topic is NotFound; of a topic without groups is empty', async () => {
    await assert.rejects(groupStats(backend.conn, backend.prefix, 'nope'), NotFoundError);
    assert.deepEqual(await groupStats(backend.conn, backend.prefix, legacy), []);
  });

  void test('parseInfo and idMs', () => {
    assert.deepEqual(parseInfo('# Memory\r\nused_memory:10\r\nmaxmemory_policy:noeviction\r\n'), {
      used_memory: '10',
      maxmemory_policy: 'noeviction',
    });
    assert.equal(idMs('1700000000123-7'), 1700000000123);
  });
});
