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
