/**
 * Publishing against a private redis-server: a publish that timed out and is
 * retried with the same id stores one event, and the round-trip budget
 * ("publish: one; consume and acknowledge: two") holds, counted by Redis's own
 * INFO commandstats.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { ErrorCode, HeraldError, TimeoutError } from '../core/errors.ts';
import { defineTopic } from '../core/topic.ts';
import {
  startRedisServer,
  uniquePrefix,
  waitFor,
  type RedisServerHandle,
} from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';
import { connect, type RedisConnection } from './connection.ts';
import { partitionKeys } from './keys.ts';

type Admin = ReturnType<typeof createClient>;

/** `cmdstat_<name>` → calls, from INFO commandstats. */
async function commandCalls(admin: Admin): Promise<Map<string, number>> {
  const text = await admin.sendCommand<string>(['INFO', 'commandstats']);
  const calls = new Map<string, number>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm))
    calls.set(m[1] as string, Number(m[2]));
  return calls;
}

void describe('publish against a private redis-server', () => {
  let server: RedisServerHandle;
  let admin: Admin;

  before(async () => {
    server = await startRedisServer({ appendonly: false });
    admin = createClient({ url: server.url });
    admin.on('error', () => {});
    await admin.connect();
  });

  after(async () => {
    await admin?.close().catch(() => {});
    await server?.stop();
  });

  void test('a publish that timed out, retried with the same id, stores one event', async () => {
    const backend = await RedisBackend.connect({
      url: server.url,
      prefix: uniquePrefix('timeout'),
    });
    try {
      const topic = defineTopic({ name: 'payments' });
      const stream = partitionKeys(backend.prefix, topic, 0).stream;
      await backend.publish(topic, { id: 'warm-up', data: { n: 0 } }); // registers the topic

      // Writes are held for 300 ms: the publish (a script, so a write) cannot answer within 50 ms.
      await admin.sendCommand(['CLIENT', 'PAUSE', '300', 'WRITE']);
      const first = await backend
        .publish(topic, { id: 'pay-1', data: { n: 1 } }, { timeoutMs: 50 })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      assert.ok(first instanceof TimeoutError, `expected a TimeoutError, got ${String(first)}`);
      assert.ok(first instanceof HeraldError);
      assert.equal(first.code, ErrorCode.Timeout);
      assert.match(first.message, /outcome is unknown/);

      await admin.sendCommand(['CLIENT', 'UNPAUSE']);
      const retry = await backend.publish(
        topic,
        { id: 'pay-1', data: { n: 1 } },
        { timeoutMs: 5000 },
      );
      // The timed-out command was already sent; Redis ran it once the pause ended. The retry found it.
      assert.equal(retry.duplicate, true, 'the retry stored a second copy');
      const again = await backend.publish(topic, { id: 'pay-1', data: { n: 1 } });
      assert.equal(again.duplicate, true);
      assert.equal(again.position, retry.position);

      assert.equal(Number(await admin.sendCommand(['XLEN', stream])), 2); // warm-up + pay-1
      const entries = await admin.sendCommand<[string, string[]][]>(['XRANGE', stream, '-', '+']);
      const ids = entries.map(([, flat]) => flat[flat.indexOf('id') + 1]);
      assert.deepEqual(ids, ['warm-up', 'pay-1']);
      assert.equal(entries[1]?.[0], retry.position);
    } finally {
      await admin.sendCommand(['CLIENT', 'UNPAUSE']).catch(() => {});
      await backend.close();
    }
  });

  void test('publish: one round trip for a batch; consume and acknowledge: two', async () => {
    const conn = await connect({ url: server.url });
    // Counts sends, and how many were already issued when the first reply came back.
    let issued = 0;
    let issuedAtFirstReply: number | undefined;
    const counting: RedisConnection = Object.create(conn) as RedisConnection;
    Object.assign(counting, {
      send: <T>(
        args: readonly string[],
        options?: Parameters<RedisConnection['send']>[1],
      ): Promise<T> => {
        issued++;
        return conn.send<T>(args, options).finally(() => {
          issuedAtFirstReply ??= issued;
        });
      },
    });
    const backend = await RedisBackend.connect({
      connection: counting,
      prefix: uniquePrefix('budget'),
    });
    try {
      const topic = defineTopic({ name: 'budget' });
      // Warm-up: the registry knows the topic. The group starts after this event.
      const warmUp = await backend.publish(topic, { data: { n: -1 } });

      await admin.sendCommand(['CONFIG', 'RESETSTAT']);
      issued = 0;
      issuedAtFirstReply = undefined;
      const receipts = await backend.publishBatch(
        topic,
        Array.from({ length: 500 }, (_, n) => ({ data: { n } })),
      );
      assert.equal(receipts.length, 500);
      const afterPublish = await commandCalls(admin);
      assert.equal(afterPublish.get('xadd'), 500, 'one XADD per event');
      const others = [...afterPublish.keys()].filter(
        (c) => !['xadd', 'info', 'config|resetstat'].includes(c),
      );
      assert.deepEqual(others, [], 'publishBatch sent commands other than XADD');
      assert.equal(issued, 500);
      assert.equal(
        issuedAtFirstReply,
        500,
        'a reply came back before every XADD was sent: not one pipeline',
      );

      await admin.sendCommand(['CONFIG', 'RESETSTAT']);
      let handled = 0;
      const sub = backend.subscribe(
        topic,
        { group: 'budget', batchSize: 500, startFrom: { position: warmUp.position } },
        () => {
          handled++;
        },
      );
      try {
        await sub.ready;
        await waitFor(() => handled >= 500, { message: 'the events were not handled' });
        const stream = partitionKeys(backend.prefix, topic, 0).stream;
        await waitFor(
          async () =>
            Number((await admin.sendCommand<unknown[]>(['XPENDING', stream, 'budget']))[0]) === 0,
          { message: 'the events were not acknowledged' },
        );
        const consumed = await commandCalls(admin);
        assert.equal(
          consumed.get('xack'),
          1,
          `500 events handled in one batch took ${consumed.get('xack')} XACKs`,
        );
        // One read that returned the batch, and at most one more blocking read-ahead.
        assert.ok(
          (consumed.get('xreadgroup') ?? 0) <= 2,
          `xreadgroup calls: ${consumed.get('xreadgroup')}`,
        );
      } finally {
        await sub.close();
      }
    } finally {
      await backend.close();
      await conn.close();
    }
  });
});
