// The publish() calls of one tick are written as one MULTI/EXEC (standalone Redis): stored
// together, a blocked consumer woken once for all of them, each caller still settling on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { HeraldError, PermissionError } from '../core/errors.ts';
import { defineTopic } from '../core/topic.ts';
import { testRedisUrl, uniquePrefix, urlWithUser, waitFor } from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';
import { partitionKeys } from './keys.ts';

const PASSWORD = 'transaction-test-password';

/** The entries a blocked XREADGROUP gets when `publish` runs while it waits. */
async function blockedReadSees(
  url: string,
  stream: string,
  publish: () => Promise<unknown>,
): Promise<number> {
  const reader = createClient({ url });
  await reader.connect();
  try {
    await reader.sendCommand(['XGROUP', 'CREATE', stream, 'g', '$', 'MKSTREAM']);
    const readerId = String(await reader.sendCommand<number>(['CLIENT', 'ID']));
    const read = reader.sendCommand<Record<string, unknown[]> | [string, unknown[]][] | null>(
      ['XREADGROUP', 'GROUP', 'g', 'c', 'COUNT', '100', 'BLOCK', '5000', 'STREAMS', stream, '>'],
      { timeout: 0 },
    );
    // The publishes must come after Redis blocked this read (other tests block reads too: ask
    // about this client, not the count). A read that came late would get all ten whatever.
    const admin = createClient({ url });
    await admin.connect();
    try {
      await waitFor(
        async () => {
          const line = await admin.sendCommand<string>(['CLIENT', 'LIST', 'ID', readerId]);
          return /\bflags=b\b/.test(line) && /\bcmd=xreadgroup\b/.test(line);
        },
        { message: 'the read is blocked in Redis' },
      );
    } finally {
      await admin.close();
    }
    await publish();
    const reply = await read;
    assert.ok(reply, 'the blocked read returned entries');
    const entries = Array.isArray(reply) ? reply[0]?.[1] : Object.values(reply)[0];
    return entries?.length ?? 0;
  } finally {
    await reader.close();
  }
}

/**
 * Runs `work` with a backend connected as a new ACL user (`rules` after `on` and its password);
 * the user is deleted afterwards.
 */
async function asAclUser(
  admin: RedisBackend,
  name: string,
  rules: readonly string[],
  work: (backend: RedisBackend) => Promise<void>,
): Promise<void> {
  const user = `${name}-${admin.prefix.slice(admin.prefix.lastIndexOf(':') + 1)}`;
  await admin.conn.send(['ACL', 'SETUSER', user, 'on', `>${PASSWORD}`, ...rules]);
  try {
    const url = urlWithUser(testRedisUrl(), user, PASSWORD);
    const backend = await RedisBackend.connect({ url, prefix: admin.prefix });
    try {
      await work(backend);
    } finally {
      await backend.close();
    }
  } finally {
    await admin.conn.send(['ACL', 'DELUSER', user]).catch(() => {});
  }
}

void test('publish() calls of one tick wake a blocked consumer once, with all of them', async () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('tx-wake');
  const backend = await RedisBackend.connect({ url, prefix });
  const topic = defineTopic<{ n: number }>({ name: 'orders' });
  try {
    await backend.publish(topic, { data: { n: -1 } }); // the topic exists: no registry write below
    const stream = partitionKeys(prefix, topic, 0).stream;
    const seen = await blockedReadSees(url, stream, () =>
      Promise.all(Array.from({ length: 10 }, (_, n) => backend.publish(topic, { data: { n } }))),
    );
    // Pipelined XADDs would wake it after the first one (1 entry); the transaction after all ten.
    assert.equal(seen, 10);
    // publishBatch beyond the transaction's size stays a pipeline: every event is stored all the same.
    const many = await backend.publishBatch(
      topic,
      Array.from({ length: 100 }, (_, n) => ({ data: { n } })),
    );
    assert.equal(new Set(many.map((r) => r.position)).size, 100);
    assert.equal(await backend.conn.send<number>(['XLEN', stream]), 111);
  } finally {
    await backend.close();
  }
});

void test('an XADD failing inside the transaction fails only its own caller', async () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('tx-partial');
  const backend = await RedisBackend.connect({ url, prefix });
  const topic = defineTopic<{ n: number }>({ name: 'orders', partitions: 2 });
  try {
    await backend.publish(topic, { data: { n: -1 }, key: 'warm' });
    const [p0, p1] = [0, 1].map((p) => partitionKeys(prefix, topic, p).stream) as [string, string];
    // Partition 1's stream becomes a string: XADD to it fails when EXEC runs it (WRONGTYPE).
    await backend.conn.send(['DEL', p1]);
    await backend.conn.send(['SET', p1, 'not a stream']);
    const before = await backend.conn.send<number>(['XLEN', p0]);
    const keys = Array.from({ length: 20 }, (_, i) => `k${i}`);
    const settled = await Promise.allSettled(
      keys.map((key, n) => backend.publish(topic, { data: { n }, key })),
    );
    const stored = settled.filter((s) => s.status === 'fulfilled');
    const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
    assert.ok(stored.length > 0 && failed.length > 0, 'the keys reach both partitions');
    for (const s of stored) assert.equal(s.value.partition, 0);
    for (const e of failed) {
      assert.ok(e instanceof HeraldError, `a typed error, got ${String(e)}`);
      assert.match(e.message, /WRONGTYPE/);
    }
    assert.equal(await backend.conn.send<number>(['XLEN', p0]), before + stored.length);
  } finally {
    await backend.close();
  }
});

void test('a user refused MULTI still publishes each event once, then stops trying transactions', async () => {
  const prefix = uniquePrefix('tx-acl');
  const admin = await RedisBackend.connect({ url: testRedisUrl(), prefix });
  const topic = defineTopic<{ n: number }>({ name: 'orders' });
  try {
    // An ACL made before Herald used transactions: everything but MULTI and EXEC.
    const rules = ['~*', '&*', '+@all', '-multi', '-exec'];
    await asAclUser(admin, 'herald-nomulti', rules, async (backend) => {
      await backend.publish(topic, { data: { n: -1 } });
      const stream = partitionKeys(prefix, topic, 0).stream;
      for (let round = 0; round < 2; round++) {
        const receipts = await Promise.all(
          Array.from({ length: 10 }, (_, n) => backend.publish(topic, { data: { n } })),
        );
        assert.equal(new Set(receipts.map((r) => r.position)).size, 10);
      }
      assert.equal(await backend.conn.send<number>(['XLEN', stream]), 21, 'no event stored twice');
      assert.equal(backend.conn.transactional, false);
    });
  } finally {
    await admin.close();
  }
});

void test('an XADD refused while queued (NOPERM) fails the whole transaction, each caller with an error', async () => {
  const prefix = uniquePrefix('tx-abort');
  const admin = await RedisBackend.connect({ url: testRedisUrl(), prefix });
  const topic = defineTopic<{ n: number }>({ name: 'orders', partitions: 2 });
  try {
    await admin.publish(topic, { data: { n: -1 }, key: 'warm' });
    const [p0, p1] = [0, 1].map((p) => partitionKeys(prefix, topic, p).stream) as [string, string];
    // May write partition 0's stream only (and read the registry).
    await asAclUser(admin, 'herald-p0', ['%R~*', `~${p0}`, '+@all'], async (backend) => {
      const len0 = await admin.conn.send<number>(['XLEN', p0]);
      const len1 = await admin.conn.send<number>(['XLEN', p1]);
      const settled = await Promise.allSettled(
        Array.from({ length: 20 }, (_, n) => backend.publish(topic, { data: { n }, key: `k${n}` })),
      );
      const errors = settled.map((s) =>
        s.status === 'rejected' ? (s.reason as unknown) : s.value,
      );
      for (const e of errors)
        assert.ok(e instanceof HeraldError, `every caller fails, got ${String(e)}`);
      assert.ok(
        errors.some((e) => e instanceof PermissionError),
        'the refused XADD is named',
      );
      // All or nothing: not one of the twenty was stored.
      assert.equal(await admin.conn.send<number>(['XLEN', p0]), len0);
      assert.equal(await admin.conn.send<number>(['XLEN', p1]), len1);
    });
  } finally {
    await admin.close();
  }
});
