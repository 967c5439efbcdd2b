/**
 * Dead-lettering never acknowledges an event whose dead letter was not stored
 * (issue 8, part 3): an entry with 10,000 field pairs (beyond Lua's unpack limit,
 * written by Herald itself with the raw codec) and a 40 MB entry are dead-lettered
 * whole; when the dead letter cannot be written, the event stays pending and the
 * status error names topic, partition and position.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Subscription, SubscriptionStatus } from '../core/contract.ts';
import { silentLogger } from '../core/logger.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';
import { connect, type RedisConnection } from './connection.ts';
import { partitionKeys } from './keys.ts';

const WIDE_PAIRS = 10_000;
const BIG_BYTES = 40 * 1024 * 1024;

function sha(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}

void describe('dead-lettering wide and large entries', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('dlq-wide');
  let backend: RedisBackend;
  let redis: RedisConnection;
  const subs: Subscription[] = [];
  const keys: string[] = [];

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix, logger: silentLogger });
    redis = await connect({ url });
  });

  after(async () => {
    await Promise.all(subs.map((s) => s.close({ deadlineMs: 2000 })));
    // The 40 MB entries must not stay in the suite's shared Redis.
    for (const k of keys) await redis.send(['DEL', k], { key: k });
    await backend.close();
    await redis.close();
  });

  /** Subscribes with a handler that always fails, dead-lettering on the first failure. */
  function failingSubscription(topic: Topic<unknown>): {
    sub: Subscription;
    statuses: SubscriptionStatus[];
  } {
    const p = partitionKeys(prefix, topic, 0);
    keys.push(p.stream, p.dlq);
    const sub = backend.subscribe(
      topic,
      { group: 'g', startFrom: 'beginning', maxAttempts: 1, visibilityTimeoutMs: 1000 },
      () => {
        throw new Error('handler refuses');
      },
    );
    subs.push(sub);
    const statuses: SubscriptionStatus[] = [];
    void (async () => {
      for await (const s of sub.status()) statuses.push(s);
    })();
    return { sub, statuses };
  }

  async function pendingCount(topic: Topic<unknown>): Promise<number> {
    const stream = partitionKeys(prefix, topic, 0).stream;
    const summary = await redis.send<[number, ...unknown[]]>(['XPENDING', stream, 'g'], {
      key: stream,
    });
    return Number(summary[0]);
  }

  void test('an entry with 10,000 field pairs and an explicit id is published whole (dedupe script)', async () => {
    const topic = defineTopic({ name: 'wide-id', codec: 'raw' });
    const data: Record<string, string> = {};
    for (let i = 0; i < WIDE_PAIRS; i++) data[`field-${i}`] = `value-${i}`;
    const first = await backend.publish(topic, { data, id: 'wide-1' });
    const again = await backend.publish(topic, { data, id: 'wide-1' });
    assert.equal(again.duplicate, true);
    assert.equal(again.position, first.position);
    const stream = partitionKeys(prefix, topic, 0).stream;
    const entries = await redis.send<[string, string[]][]>(['XRANGE', stream, '-', '+'], {
      key: stream,
    });
    assert.equal(entries.length, 1);
    assert.equal((entries[0]?.[1].length ?? 0) / 2, WIDE_PAIRS, 'every field stored');
  });

  void test('an entry with 10,000 field pairs is dead-lettered with every field', async () => {
    const topic = defineTopic({ name: 'wide', codec: 'raw' });
    const data: Record<string, string> = {};
    for (let i = 0; i < WIDE_PAIRS; i++) data[`field-${i}`] = `value-${i}`;
    const receipt = await backend.publish(topic, { data });
    const { sub } = failingSubscription(topic);
    await sub.ready;

    const letters = await waitFor(
      async () => {
        const list = await backend.deadLetters.list(topic);
        if (list.length > 0) return list;
        // The event may leave the pending list only with its dead letter stored.
        assert.equal(await pendingCount(topic), 1, 'acknowledged without a dead letter');
        return undefined;
      },
      { timeoutMs: 30_000, message: 'the wide entry was not dead-lettered' },
    );
    assert.equal(letters?.length, 1);
    const letter = letters?.[0];
    assert.equal(letter?.originalPosition, receipt.position);
    assert.deepEqual(letter?.fields, data);
    await waitFor(async () => (await pendingCount(topic)) === 0);

    // Replaying it puts every field back on the partition.
    assert.equal(await backend.deadLetters.replay(topic), 1);
    const stream = partitionKeys(prefix, topic, 0).stream;
    const entries = await redis.send<[string, string[]][]>(
      ['XRANGE', stream, `(${receipt.position}`, '+'],
      { key: stream },
    );
    assert.equal(entries.length, 1);
    const flat = entries[0]?.[1] ?? [];
    assert.equal(flat.length, 2 * WIDE_PAIRS + 2, 'fields plus herald-replay-for');
    assert.equal(flat[flat.length - 1], 'g');
  });

  void test('a 40 MB entry is dead-lettered whole', async () => {
    // Above the default maxEventBytes (1 MiB): a topic that allows large events says so.
    const topic = defineTopic({ name: 'big', codec: 'raw', maxEventBytes: 64 * 1024 * 1024 });
    const big = 'x'.repeat(BIG_BYTES - 1) + 'y';
    const receipt = await backend.publish(topic, { data: { body: big, small: 'kept' } });
    const { sub, statuses } = failingSubscription(topic);
    await sub.ready;

    const letter = await waitFor(
      async () => {
        const [first] = await backend.deadLetters.list(topic);
        if (first) return first;
        assert.equal(await pendingCount(topic), 1, 'acknowledged without a dead letter');
        return undefined;
      },
      { timeoutMs: 60_000, message: 'the 40 MB entry was not dead-lettered' },
    );
    assert.equal(letter?.originalPosition, receipt.position);
    assert.equal(letter?.fields.small, 'kept');
    assert.equal(letter?.fields.body?.length, BIG_BYTES);
    assert.equal(sha(letter?.fields.body ?? ''), sha(big));
    await waitFor(async () => (await pendingCount(topic)) === 0);
    assert.deepEqual(
      statuses.filter((s) => s.type === 'error'),
      [],
    );
  });

  void test('when the dead letter cannot be stored, the event stays pending and the error names it', async () => {
    const topic = defineTopic({ name: 'blocked' });
    const dlq = partitionKeys(prefix, topic, 0).dlq;
    // A key of the wrong type makes the dead letter's XADD fail (WRONGTYPE).
    await redis.send(['SET', dlq, 'not a stream'], { key: dlq });
    const receipt = await backend.publish(topic, { data: { n: 1 } });
    const { sub, statuses } = failingSubscription(topic);
    await sub.ready;

    const error = await waitFor(() => statuses.find((s) => s.type === 'error'), {
      timeoutMs: 30_000,
      message: 'no error status',
    });
    assert.equal(error?.type, 'error');
    if (error?.type === 'error') {
      assert.match(error.error.message, /'blocked'/);
      assert.match(error.error.message, /partition 0/);
      assert.ok(error.error.message.includes(receipt.position), error.error.message);
    }
    assert.equal(await pendingCount(topic), 1, 'acknowledged without a dead letter');

    // Once the dead-letter stream can be written again, the reclaimed event is dead-lettered.
    await redis.send(['DEL', dlq], { key: dlq });
    const letter = await waitFor(async () => (await backend.deadLetters.list(topic))[0]);
    assert.equal(letter?.originalPosition, receipt.position);
    await waitFor(async () => (await pendingCount(topic)) === 0);
  });
});
