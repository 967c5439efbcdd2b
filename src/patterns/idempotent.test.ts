import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import type { Delivery } from '../core/event.ts';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { connect, type RedisConnection } from '../redis/connection.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { idempotent } from './idempotent.ts';

function delivery(id: string, attempt = 1): Delivery<{ n: number }> {
  return {
    specversion: '1.0',
    id,
    source: 'test',
    type: 'test',
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    subject: undefined,
    key: undefined,
    data: { n: 1 },
    headers: {},
    traceparent: undefined,
    delivery: { topic: 't', partition: 0, group: 'g', consumer: 'c', position: '1-0', attempt },
  };
}

describe('idempotent()', () => {
  let conn: RedisConnection;
  before(async () => {
    conn = await connect({ url: testRedisUrl() });
  });
  after(async () => {
    await conn.close();
  });

  test('runs the handler once per event and skips redeliveries', async () => {
    const duplicates: string[] = [];
    const guard = idempotent<{ n: number }>({
      conn,
      prefix: uniquePrefix('idem'),
      onDuplicate: (e) => duplicates.push(e.id),
    });
    let runs = 0;
    const handler = guard(() => {
      runs++;
    });
    await handler(delivery('a'));
    await handler(delivery('a', 2));
    await handler(delivery('b'));
    assert.equal(runs, 2);
    assert.deepEqual(duplicates, ['a']);
    assert.equal(await guard.isDone(delivery('a')), true);
    assert.equal(await guard.isDone(delivery('c')), false);
  });

  test('a failed handler releases its lease so that the retry runs at once', async () => {
    const guard = idempotent<{ n: number }>({ conn, prefix: uniquePrefix('idem') });
    let runs = 0;
    const handler = guard(() => {
      runs++;
      if (runs === 1) throw new Error('transient');
    });
    await assert.rejects(async () => handler(delivery('x')), /transient/);
    assert.equal(await conn.send(['EXISTS', guard.recordKey(delivery('x'))]), 0);
    await handler(delivery('x', 2));
    await handler(delivery('x', 3));
    assert.equal(runs, 2);
  });

  test('two attempts at once: one runs, the other waits for it and skips', async () => {
    const guard = idempotent<{ n: number }>({ conn, prefix: uniquePrefix('idem') });
    let runs = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const handler = guard(async () => {
      runs++;
      await gate;
    });
    const first = handler(delivery('p'));
    await waitFor(() => runs === 1, { message: 'first attempt started' });
    const second = handler(delivery('p', 2));
    release();
    await Promise.all([first, second]);
    assert.equal(runs, 1);
  });

  test('the lease of an attempt that crashed expires, then the redelivery runs', async () => {
    const guard = idempotent<{ n: number }>({ conn, prefix: uniquePrefix('idem'), leaseMs: 300 });
    // A process that died mid-handler leaves its lease behind.
    await conn.send(['SET', guard.recordKey(delivery('k')), 'lease:dead', 'PX', '300']);
    let runs = 0;
    await guard(() => {
      runs++;
    })(delivery('k', 2));
    assert.equal(runs, 1);
    assert.equal(await guard.isDone(delivery('k')), true);
  });

  test('a lease held longer than it may be is reported, not waited on forever', async () => {
    const guard = idempotent<{ n: number }>({ conn, prefix: uniquePrefix('idem'), leaseMs: 100 });
    const key = guard.recordKey(delivery('stuck'));
    await conn.send(['SET', key, 'lease:other', 'PX', '60000']);
    await assert.rejects(
      async () => guard(() => {})(delivery('stuck')),
      (e: Error & { code?: string }) =>
        e.name === 'IdempotencyLeaseError' && e.code === 'HERALD_BUSY',
    );
    await conn.send(['DEL', key]);
  });

  test('commit applies effects and record atomically: a crash before the ack applies nothing twice', async () => {
    const prefix = uniquePrefix('idem');
    const guard = idempotent<{ n: number }>({ conn, prefix });
    const counter = `${prefix}:counter`;
    let runs = 0;
    const handler = guard(async (e) => {
      runs++;
      await guard.commit(
        e,
        [
          ['INCRBY', counter, '5'],
          ['SADD', `${prefix}:seen`, e.id],
        ],
        'charged',
      );
      if (runs === 1) throw new Error('crash after the effects, before the ack');
    });
    await assert.rejects(async () => handler(delivery('m')), /crash/);
    await handler(delivery('m', 2));
    assert.equal(runs, 1, 'the redelivery finds the record written with the effects');
    assert.equal(await conn.send(['GET', counter]), '5');
    assert.equal(await conn.send(['GET', guard.recordKey(delivery('m'))]), 'done:charged');
    assert.equal(await guard.commit(delivery('m'), [['INCRBY', counter, '5']]), false);
    assert.equal(await conn.send(['GET', counter]), '5');
  });

  test('rejects options that cannot work', () => {
    assert.throws(() => idempotent({ conn, prefix: '' }), { code: 'HERALD_CONFIG' });
    assert.throws(() => idempotent({ conn, prefix: 'p', ttlMs: 0 }), { code: 'HERALD_CONFIG' });
    assert.throws(() => idempotent({ conn, prefix: 'p', leaseMs: 1.5 }), { code: 'HERALD_CONFIG' });
  });

  test('in a subscription: redelivered events (same id, published twice past dedupe) apply once', async () => {
    const prefix = uniquePrefix('idem');
    const backend = await RedisBackend.connect({ url: testRedisUrl(), prefix });
    try {
      const topic = defineTopic({
        name: 'charges',
        schema: z.object({ n: z.number() }),
        dedupeWindowMs: 1,
      });
      const guard = idempotent<{ n: number }>({
        conn: backend.conn,
        prefix: `${prefix}:processed`,
      });
      const total = `${prefix}:total`;
      let failOnce = true;
      const sub = backend.subscribe(
        topic,
        { group: 'g', startFrom: 'beginning', middleware: [guard], backoff: { initialMs: 10 } },
        async (e) => {
          await guard.commit(e, [['INCRBY', total, String(e.data.n)]]);
          if (failOnce) {
            failOnce = false;
            throw new Error('fails after its commit');
          }
        },
      );
      await sub.ready;
      await backend.publish(topic, { id: 'e1', data: { n: 3 } });
      await new Promise((resolve) => setTimeout(resolve, 5)); // let the 1 ms dedupe window pass
      await backend.publish(topic, { id: 'e1', data: { n: 3 } });
      await backend.publish(topic, { id: 'e2', data: { n: 4 } });
      assert.equal(
        await backend.conn.send(['XLEN', `${prefix}:{charges:0}:stream`]),
        3,
        'e1 stored twice',
      );
      await waitFor(async () => (await backend.conn.send(['GET', total])) === '7', {
        message: 'e1 counted once, e2 once',
      });
      await waitFor(async () => {
        const pending = await backend.conn.send<[number]>([
          'XPENDING',
          `${prefix}:{charges:0}:stream`,
          'g',
        ]);
        return Number(pending[0]) === 0;
      });
      assert.equal(await backend.conn.send(['GET', total]), '7');
    } finally {
      await backend.close();
    }
  });
});
