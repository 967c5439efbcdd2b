// publish() calls made in the same tick share one pipeline, but each settles on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { ValidationError } from '../core/errors.ts';
import { defineTopic } from '../core/topic.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';
import { partitionKeys } from './keys.ts';

void test('concurrent publish() calls: a bad event rejects only its caller, the others are stored once each', async () => {
  const prefix = uniquePrefix('coalesce');
  const backend = await RedisBackend.connect({ url: testRedisUrl(), prefix });
  const topic = defineTopic({ name: 'orders', schema: z.object({ n: z.number() }) });
  try {
    const calls = Array.from({ length: 200 }, (_, i) =>
      backend.publish(topic, { data: (i === 50 ? { n: 'bad' } : { n: i }) as { n: number } }),
    );
    const settled = await Promise.allSettled(calls);
    const rejected = settled.flatMap((s, i) =>
      s.status === 'rejected' ? [{ i, e: s.reason as unknown }] : [],
    );
    assert.equal(rejected.length, 1);
    assert.equal(rejected[0]?.i, 50);
    assert.ok(rejected[0]?.e instanceof ValidationError);
    const positions = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value.position] : []));
    assert.equal(new Set(positions).size, 199, 'each caller got its own position');
    const len = await backend.conn.send<number>(['XLEN', partitionKeys(prefix, topic, 0).stream]);
    assert.equal(len, 199);
    // Same ids in the same tick: the first is stored, the repeats report duplicates.
    const twice = await Promise.all([
      backend.publish(topic, { id: 'x', data: { n: 1 } }),
      backend.publish(topic, { id: 'x', data: { n: 1 } }),
    ]);
    assert.deepEqual(
      twice.map((r) => r.duplicate),
      [false, true],
    );
    assert.equal(twice[0]?.position, twice[1]?.position);
  } finally {
    await backend.close();
  }
});

void test('one tick of publish() calls for several topics and options: each lands in its own topic, once', async () => {
  const prefix = uniquePrefix('coalesce-mixed');
  const backend = await RedisBackend.connect({ url: testRedisUrl(), prefix });
  const orders = defineTopic<{ n: number }>({ name: 'orders' });
  const payments = defineTopic<{ n: number }>({ name: 'payments' });
  const slow = { timeoutMs: 4000 };
  try {
    for (let tick = 0; tick < 3; tick++) {
      // Interleaved in one tick: the first call's topic and options, then others, then it again.
      const calls = [];
      for (let i = 0; i < 30; i++) {
        const data = { n: tick * 100 + i };
        if (i % 3 === 0) calls.push(backend.publish(orders, { data }));
        else if (i % 3 === 1) calls.push(backend.publish(payments, { data }));
        else calls.push(backend.publish(orders, { data }, slow));
      }
      const receipts = await Promise.all(calls);
      receipts.forEach((r, i) => assert.equal(r.topic, i % 3 === 1 ? 'payments' : 'orders'));
    }
    const read = async (topic: typeof orders): Promise<number[]> => {
      const entries = await backend.conn.send<[string, string[]][]>([
        'XRANGE',
        partitionKeys(prefix, topic, 0).stream,
        '-',
        '+',
      ]);
      return entries.map(
        ([, f]) => (JSON.parse(f[1] as string) as [string, string, { n: number }])[2].n,
      );
    };
    const want = (keep: (i: number) => boolean): number[] =>
      [0, 1, 2].flatMap((t) =>
        Array.from({ length: 30 }, (_, i) => i)
          .filter(keep)
          .map((i) => t * 100 + i),
      );
    assert.deepEqual(
      (await read(orders)).sort((a, b) => a - b),
      want((i) => i % 3 !== 1),
    );
    assert.deepEqual(
      await read(payments),
      want((i) => i % 3 === 1),
    );
  } finally {
    await backend.close();
  }
});
