import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { NotFoundError } from '../core/errors.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { applyRetention, startRetention, trimTopic } from './retention.ts';

let backend: RedisBackend;
let seq = 0;

before(async () => {
  backend = await RedisBackend.connect({ url: testRedisUrl(), prefix: uniquePrefix('retention') });
});
after(async () => {
  await backend.close();
});

function streamOf(t: Topic<unknown>, partition = 0): string {
  return partitionKeys(backend.prefix, t, partition).stream;
}

async function seed(
  n: number,
  options: { partitions?: number; retention?: Topic['retention'] } = {},
) {
  const topic = defineTopic({ name: `t${++seq}`, ...options });
  await backend.publishBatch(
    topic,
    Array.from({ length: n }, (_, i) => ({ data: { i }, key: `k${i}` })),
  );
  return topic;
}

async function ids(t: Topic<unknown>, partition = 0): Promise<string[]> {
  const rows = await backend.conn.send<[string, unknown][]>([
    'XRANGE',
    streamOf(t, partition),
    '-',
    '+',
  ]);
  return rows.map((r) => r[0]);
}

const xlen = (t: Topic<unknown>, p = 0): Promise<number> =>
  backend.conn.send<number>(['XLEN', streamOf(t, p)]);
const send = (...args: string[]): Promise<unknown> => backend.conn.send(args);

/** Group `name` has read the first `read` entries and acknowledged those at the given indexes. */
async function groupAt(
  t: Topic<unknown>,
  name: string,
  read: number,
  acked: (i: number) => boolean,
) {
  const all = await ids(t);
  await send('XGROUP', 'CREATE', streamOf(t), name, '0');
  if (read > 0)
    await send(
      'XREADGROUP',
      'GROUP',
      name,
      'c1',
      'COUNT',
      String(read),
      'STREAMS',
      streamOf(t),
      '>',
    );
  const ack = all.slice(0, read).filter((_, i) => acked(i));
  if (ack.length > 0) await send('XACK', streamOf(t), name, ...ack);
  return all;
}

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines };
}

void describe('trimTopic', () => {
  void test('by count (exact) keeps the newest maxLen entries of every partition', async () => {
    const t = await seed(200, { partitions: 2 });
    const before0 = await ids(t, 0);
    const result = await trimTopic(backend.conn, backend.prefix, t, {
      maxLen: 10,
      approximate: false,
    });
    assert.equal(result.length, 2);
    assert.deepEqual(await ids(t, 0), before0.slice(-10));
    assert.equal(await xlen(t, 1), 10);
    assert.equal(
      result.reduce((n, p) => n + p.trimmed, 0),
      180,
    );
    assert.ok(result.every((p) => p.skippedBecauseUnread === 0 && p.trimmedUnacked === 0));
  });

  void test('approximate count trimming removes whole nodes and never goes below maxLen', async () => {
    const t = await seed(1000);
    const [r] = await trimTopic(backend.conn, backend.prefix, t, { maxLen: 150 });
    const left = await xlen(t);
    assert.ok(left >= 150 && left < 1000, `left ${left}`);
    assert.equal(r?.trimmed, 1000 - left);
  });

  void test('by age removes entries older than maxAgeMs, by their ids’ timestamps', async () => {
    const t = defineTopic({ name: `t${++seq}` });
    for (let i = 0; i < 100; i++)
      await send('XADD', streamOf(t), `${1_000_000 + i * 10}-0`, 'i', String(i));
    const [r] = await trimTopic(backend.conn, backend.prefix, t, {
      maxAgeMs: 500,
      now: 1_001_000,
      approximate: false,
    });
    assert.equal(r?.trimmed, 50);
    assert.equal((await ids(t))[0], '1000500-0');
  });

  void test('count and age together: an entry goes when either rule says so', async () => {
    const t = defineTopic({ name: `t${++seq}` });
    for (let i = 0; i < 100; i++)
      await send('XADD', streamOf(t), `${2_000_000 + i}-0`, 'i', String(i));
    const opts = { approximate: false, now: 2_000_100 } as const;
    await trimTopic(backend.conn, backend.prefix, t, { ...opts, maxLen: 80, maxAgeMs: 90 }); // age keeps 90, count 80
    assert.equal(await xlen(t), 80);
    await trimTopic(backend.conn, backend.prefix, t, { ...opts, maxLen: 70, maxAgeMs: 50 }); // age keeps 50
    assert.equal(await xlen(t), 50);
  });

  void test('a lagging group’s unread events are not trimmed by default', async () => {
    const t = await seed(100);
    const all = await groupAt(t, 'fast', 100, () => true);
    await send('XGROUP', 'CREATE', streamOf(t), 'slow', all[39] as string); // read 40, 60 unread
    const [r] = await trimTopic(backend.conn, backend.prefix, t, {
      maxLen: 10,
      approximate: false,
    });
    assert.equal(r?.trimmed, 40);
    assert.equal(r?.skippedBecauseUnread, 50);
    assert.deepEqual(await ids(t), all.slice(40));
    // Age asking for everything stops at the same place.
    const [again] = await trimTopic(backend.conn, backend.prefix, t, {
      maxAgeMs: 1,
      now: Date.now() + 60_000,
    });
    assert.equal(again?.trimmed, 0);
    assert.equal(again?.skippedBecauseUnread, 60);
    assert.equal(await xlen(t), 60);
  });

  void test('pending (delivered, unacknowledged) events are not trimmed by default', async () => {
    const t = await seed(100);
    const all = await groupAt(t, 'g', 60, (i) => i < 30 || i >= 40); // 30..39 pending
    const [r] = await trimTopic(backend.conn, backend.prefix, t, { maxLen: 0, approximate: false });
    assert.equal(r?.trimmed, 30);
    assert.equal(r?.floorId, all[30]);
    assert.equal((await ids(t))[0], all[30]);
  });

  void test('unsafe trims them, and counts per group what was lost unread or pending', async () => {
    const t = await seed(100);
    const all = await groupAt(t, 'p', 60, (i) => i < 30 || i >= 40); // 10 pending, 40 unread
    await send('XGROUP', 'CREATE', streamOf(t), 'slow', all[39] as string); // 60 unread
    const [r] = await trimTopic(backend.conn, backend.prefix, t, {
      maxLen: 10,
      approximate: false,
      unsafe: true,
    });
    assert.equal(r?.trimmed, 90);
    assert.deepEqual(await ids(t), all.slice(90));
    const byGroup = Object.fromEntries((r?.losses ?? []).map((l) => [l.group, l]));
    assert.deepEqual(byGroup.p, { group: 'p', unread: 30, pending: 10 });
    assert.deepEqual(byGroup.slow, { group: 'slow', unread: 50, pending: 0 });
    assert.equal(r?.trimmedUnacked, 90);
    // What is gone is not counted twice.
    const [again] = await trimTopic(backend.conn, backend.prefix, t, {
      maxLen: 10,
      approximate: false,
      unsafe: true,
    });
    assert.equal(again?.trimmed, 0);
    assert.deepEqual(again?.losses, []);
  });

  void test('a topic given by name is looked up in the registry; an unknown one is NotFound', async () => {
    const t = await seed(30);
    const r = await trimTopic(backend.conn, backend.prefix, t.name, {
      maxLen: 5,
      approximate: false,
    });
    assert.equal(r[0]?.trimmed, 25);
    await assert.rejects(
      trimTopic(backend.conn, backend.prefix, 'no-such-topic', { maxLen: 1 }),
      NotFoundError,
    );
  });
});

void describe('applyRetention / startRetention', () => {
  void test('applies the declared retention; unsafe losses are logged and reported to the hook', async () => {
    const t = await seed(50, { retention: { maxLen: 5, unsafe: true } });
    await send('XGROUP', 'CREATE', streamOf(t), 'late', '0');
    const reported: [string, string, number][] = [];
    const removeHook = backend.addHook('trimmedBeforeAck', (topic, group, n) =>
      reported.push([topic, group, n]),
    );
    const { logger, lines } = capture();
    try {
      const r = await applyRetention(backend, t, { logger, approximate: false });
      assert.equal(r[0]?.trimmed, 45);
      assert.deepEqual(reported, [[t.name, 'late', 45]]);
      const warning = lines.find((l) => l.group === 'late');
      assert.equal(warning?.unread, 45);
      assert.match(String(warning?.msg), /before group 'late' acknowledged/);
    } finally {
      removeHook();
    }
  });

  void test('a topic without retention is left alone', async () => {
    const t = await seed(20);
    assert.deepEqual(await applyRetention(backend, t), []);
    assert.equal(await xlen(t), 20);
  });

  void test('the background trimmer applies retention on its own until stopped', async () => {
    const a = await seed(40, { retention: { maxLen: 0 } });
    const b = await seed(40, { retention: { maxAgeMs: 1 } });
    await send('XGROUP', 'CREATE', streamOf(b), 'g', '$'); // read nothing, but everything before '$' is not unread
    const passes: number[] = [];
    const bg = startRetention(backend, [a, b], {
      intervalMs: 20,
      onPass: (m) => void passes.push(m.size),
    });
    try {
      await waitFor(async () => (await xlen(a)) === 0 && (await xlen(b)) === 0, {
        message: 'background retention did not trim',
      });
      await backend.publish(b, { data: { late: true } }); // unread by g: kept
      await waitFor(() => passes.length >= 3);
      const lastPass = await bg.runOnce();
      assert.equal(lastPass.get(b.name)?.[0]?.skippedBecauseUnread, 1);
      assert.equal(await xlen(b), 1);
    } finally {
      await bg.stop();
    }
  });
});
