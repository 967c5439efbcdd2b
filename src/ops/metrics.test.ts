import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { z } from 'zod';
import { ConfigError, ValidationError } from '../core/errors.ts';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { instrument, LIBRARY_METRICS } from './metrics.ts';

/** The ordered subscriptions' rebalance bound in these tests (short: leases of 700 ms). */
const ORDERED_BOUND_MS = 1000;
/** How long the foreign owner set by the test holds a partition. */
const FOREIGN_LEASE_MS = 1500;

interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

void describe('instrument', () => {
  let backend: RedisBackend;
  before(async () => {
    backend = await RedisBackend.connect({ url: testRedisUrl(), prefix: uniquePrefix('metrics') });
  });
  after(async () => {
    await backend.close();
  });

  async function samples(registry: Registry, name: string): Promise<Sample[]> {
    const all = (await registry.getMetricsAsJSON()) as unknown as {
      name: string;
      values: Sample[];
    }[];
    return all.find((m) => m.name === name || `${m.name}_count` === name)?.values ?? [];
  }
  async function value(
    registry: Registry,
    name: string,
    labels: Record<string, string>,
  ): Promise<number> {
    const match = (await samples(registry, name)).filter(
      (s) =>
        (s.metricName === undefined || s.metricName === name) &&
        Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    return match.reduce((n, s) => n + s.value, 0);
  }

  void test('records publishes, publish errors, handling, retries, dead letters and trims, per topic and group', async () => {
    const registry = new Registry();
    const seen: string[] = [];
    const removeEarlier = backend.addHook('deadLettered', (_t, _g, reason) => seen.push(reason)); // an earlier observer
    const inst = instrument(backend, { registry });
    const topic = defineTopic({
      name: 'orders',
      schema: z.object({ n: z.number() }),
    });
    const sub = backend.subscribe(
      topic,
      {
        group: 'billing',
        startFrom: 'beginning',
        maxAttempts: 2,
        backoff: { initialMs: 1, maxMs: 5 },
      },
      (e) => {
        if (e.data.n === 13) throw new Error('unlucky');
      },
    );
    try {
      await sub.ready;
      await backend.publishBatch(
        topic,
        Array.from({ length: 20 }, (_, n) => ({ data: { n } })),
      );
      await assert.rejects(
        backend.publish(topic, { data: { n: 'x' } as unknown as { n: number } }),
        ValidationError,
      );
      await waitFor(
        async () =>
          (await value(registry, LIBRARY_METRICS.deadLettered, { topic: 'orders' })) === 1,
      );
      await waitFor(
        async () =>
          (await value(registry, 'herald_handler_duration_seconds_count', {
            topic: 'orders',
            group: 'billing',
          })) === 21,
      );
      backend.deliveryHooks.onTrimmedBeforeAck?.('orders', 'billing', 3);

      assert.equal(await value(registry, LIBRARY_METRICS.published, { topic: 'orders' }), 20);
      assert.equal(
        await value(registry, LIBRARY_METRICS.publishErrors, {
          topic: 'orders',
          code: 'HERALD_VALIDATION',
        }),
        1,
      );
      assert.equal(
        await value(registry, LIBRARY_METRICS.handlerFailures, {
          topic: 'orders',
          group: 'billing',
        }),
        2,
      );
      assert.equal(
        await value(registry, LIBRARY_METRICS.retries, { topic: 'orders', group: 'billing' }),
        1,
      );
      assert.equal(
        await value(registry, LIBRARY_METRICS.deadLettered, {
          topic: 'orders',
          group: 'billing',
          reason: 'handler-failed',
        }),
        1,
      );
      assert.equal(
        await value(registry, LIBRARY_METRICS.trimmedUnacked, {
          topic: 'orders',
          group: 'billing',
        }),
        3,
      );
      assert.deepEqual(seen, ['handler-failed'], 'the earlier hook still runs');

      const text = await registry.metrics();
      for (const name of Object.values(LIBRARY_METRICS))
        assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
      assert.match(text, /^herald_events_published_total\{topic="orders"\} 20$/m);
      assert.match(
        text,
        /^herald_handler_duration_seconds_bucket\{le="0\.001",topic="orders",group="billing"\} \d+$/m,
      );
    } finally {
      await sub.close();
      inst.stop();
      removeEarlier();
    }
    // Stopped: its hooks are gone, nothing more is recorded.
    assert.equal(backend.hasHook('published'), false);
    await backend.publish(topic, { data: { n: 99 } });
    assert.equal(await value(registry, LIBRARY_METRICS.published, { topic: 'orders' }), 20);
  });

  void test('ordered subscriptions: partitions owned, and each assignment, revocation and fencing', async () => {
    const registry = new Registry();
    const inst = instrument(backend, { registry });
    const topic = defineTopic({ name: 'ordered-metrics', partitions: 4 });
    const labels = { topic: topic.name, group: 'g' };
    const owned = (): Promise<number> => value(registry, LIBRARY_METRICS.ownedPartitions, labels);
    const changes = (change: string): Promise<number> =>
      value(registry, LIBRARY_METRICS.ownershipChanges, { ...labels, change });
    const options = { group: 'g', ordered: true, rebalanceWithinMs: ORDERED_BOUND_MS } as const;
    const a = backend.subscribe(topic, { ...options, consumer: 'a' }, () => {});
    let b: ReturnType<typeof backend.subscribe> | undefined;
    try {
      await a.ready;
      await waitFor(async () => (await owned()) === 4 && (await changes('assigned')) === 4, {
        message: 'the only instance owns all 4 partitions',
      });
      // A second instance: 2 partitions move from a to b; this process still owns all 4.
      b = backend.subscribe(topic, { ...options, consumer: 'b' }, () => {});
      await b.ready;
      await waitFor(
        async () => (await changes('revoked')) >= 2 && (await changes('assigned')) >= 6,
        {
          timeoutMs: 4 * ORDERED_BOUND_MS,
          message: 'two partitions handed over to the new instance',
        },
      );
      assert.equal(await owned(), 4);
      // Another owner overwrites partition 0's lease: its owner is fenced at its next renewal and
      // owns one partition less, until the foreign lease expires and it takes it back.
      const ownerKey = `${partitionKeys(backend.prefix, topic, 0).ownerPrefix}g`;
      await backend.conn.send(['SET', ownerKey, '999|intruder', 'PX', String(FOREIGN_LEASE_MS)]);
      await waitFor(async () => (await changes('fenced')) >= 1 && (await owned()) === 3, {
        timeoutMs: 4 * ORDERED_BOUND_MS,
        message: 'the fenced partition is no longer counted as owned',
      });
      await waitFor(async () => (await owned()) === 4, {
        timeoutMs: FOREIGN_LEASE_MS + 4 * ORDERED_BOUND_MS,
        message: 'the partition is taken back once the foreign lease expired',
      });
      assert.ok((await changes('assigned')) >= 7, 'taken back: assigned again');
    } finally {
      await b?.close();
      await a.close();
      inst.stop();
    }
    // Closing hands every partition back.
    assert.equal(await owned(), 0);
  });

  void test('two instrumentations: stopping the first leaves the second recording', async () => {
    const a = instrument(backend, { registry: new Registry() });
    const b = instrument(backend, { registry: new Registry() });
    const topic = defineTopic({ name: 'two-instruments' });
    try {
      await backend.publish(topic, { data: { n: 1 } });
      a.stop();
      await backend.publish(topic, { data: { n: 2 } });
      assert.equal(await value(a.registry, LIBRARY_METRICS.published, { topic: topic.name }), 1);
      assert.equal(await value(b.registry, LIBRARY_METRICS.published, { topic: topic.name }), 2);
    } finally {
      a.stop();
      b.stop();
    }
  });

  void test('hooks are checked when added: unknown names and non-functions are refused', () => {
    assert.throws(
      () => backend.addHook('nope' as 'published', () => {}),
      (e: unknown) => e instanceof ConfigError && /unknown hook 'nope'/.test(e.message),
    );
    assert.throws(
      () => backend.addHook('published', 42 as unknown as () => void),
      (e: unknown) => e instanceof ConfigError && /must be a function/.test(e.message),
    );
  });

  void test('two backends can share one registry', async () => {
    const registry = new Registry();
    const other = await RedisBackend.connect({ url: testRedisUrl(), prefix: backend.prefix });
    try {
      const a = instrument(backend, { registry });
      const b = instrument(other, { registry });
      const t = defineTopic({ name: 'shared' });
      await backend.publish(t, { data: 1 });
      await other.publish(t, { data: 2 });
      assert.equal(await value(registry, LIBRARY_METRICS.published, { topic: 'shared' }), 2);
      a.stop();
      b.stop();
    } finally {
      await other.close();
    }
  });
});
