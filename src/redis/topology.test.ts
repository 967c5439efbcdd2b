/**
 * Herald on Redis Sentinel and Redis Cluster, connected from a URL, against real
 * processes (src/test-support/topology.ts): a master with two replicas watched by a
 * sentinel, killed mid-stream to force a failover; and a three-node cluster.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Subscription, SubscriptionStatus } from '../core/contract.ts';
import { ConnectionError, isHeraldError } from '../core/errors.ts';
import { defineTopic } from '../core/topic.ts';
import { getFreePort } from '../embedded/redis-server.ts';
import { enableDurability, type DurabilityHandle } from '../ops/durability.ts';
import { uniquePrefix, waitFor } from '../test-support/redis.ts';
import {
  infoAt,
  startCluster,
  startSentinelSetup,
  type RedisClusterSetup,
  type SentinelSetup,
} from '../test-support/topology.ts';
import { RedisBackend } from './backend.ts';
import { connect } from './connection.ts';
import { DeliveryCount, describeReport } from './fixtures/count.ts';
import { partitionKeys } from './keys.ts';

/** Collects a subscription's status events in the background. */
function recordStatus(sub: Subscription): SubscriptionStatus[] {
  const seen: SubscriptionStatus[] = [];
  void (async () => {
    for await (const s of sub.status()) seen.push(s);
  })();
  return seen;
}

/** The test events' marker: every event carries `{ n }`. */
function nOf(e: { data: unknown }): string {
  return (e.data as { n: string }).n;
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

void describe('Redis Sentinel: redis+sentinel://host:port/mymaster', () => {
  let setup: SentinelSetup;
  let backend: RedisBackend;
  let durability: DurabilityHandle;
  let sub: Subscription;
  let statuses: SubscriptionStatus[];
  const count = new DeliveryCount();
  const topic = defineTopic({ name: 'sentinel-orders' });
  const replicated = { durability: { mode: 'replicated', replicas: 1, timeoutMs: 2000 } } as const;

  before(async () => {
    setup = await startSentinelSetup({ replicas: 2, downAfterMs: 1000, failoverTimeoutMs: 5000 });
    // A list of sentinels whose first one is down: the client asks the next.
    const url = setup.url.replace('//', `//127.0.0.1:${await getFreePort()},`);
    backend = await RedisBackend.connect({ url, prefix: uniquePrefix('sentinel') });
    durability = await enableDurability(backend);
    sub = backend.subscribe(
      topic,
      { group: 'billing', startFrom: 'beginning', visibilityTimeoutMs: 2000 },
      (e) => {
        count.delivered(nOf(e));
      },
    );
    statuses = recordStatus(sub);
    await sub.ready;
  });
  after(async () => {
    await sub?.close({ deadlineMs: 2000 });
    await durability?.stop();
    await backend?.close();
    await setup?.stop();
  });

  void test('connects through the sentinel; 200 events published with replication are all consumed', async () => {
    assert.equal(backend.conn.kind, 'sentinel');
    const events = Array.from({ length: 200 }, (_, i) => ({ data: { n: `a${i}` } }));
    // Half as one batch, half one by one: both paths go through WAIT on the dedicated connection.
    await backend.publishBatch(topic, events.slice(0, 100), replicated);
    await Promise.all(events.slice(100).map((e) => backend.publish(topic, e, replicated)));
    for (const e of events) count.acknowledged(e.data.n);
    await waitFor(() => count.deliveredCount === 200, {
      timeoutMs: 20_000,
      message: 'not every event was consumed',
    });
    assert.deepEqual(count.report().lost, []);
  });

  void test('a master name the sentinels do not know fails to connect with a ConnectionError naming the cause', async () => {
    await assert.rejects(
      connect({ url: setup.url.replace(/mymaster$/, 'nosuch'), connectTimeoutMs: 1000 }),
      (e: unknown) => e instanceof ConnectionError && /No such master/.test(e.message),
    );
  });

  void test('survives a SIGKILLed master: the sentinel promotes a replica, the same backend publishes and consumes on', async () => {
    const oldPort = setup.master.port;
    await setup.master.kill();
    const killedAt = Date.now();

    // Publish one event at a time while the failover runs, and for a while after it.
    let promotedAt = 0;
    let stopped = false;
    const failures = new Map<string, number>();
    const untyped: unknown[] = [];
    let seq = 0;
    let ackedAfterPromotion = 0;
    const publishing = (async () => {
      while (!stopped && (promotedAt === 0 || ackedAfterPromotion < 100)) {
        const n = `b${seq++}`;
        try {
          await backend.publish(topic, { data: { n } }, { timeoutMs: 1000 });
          count.acknowledged(n);
          if (promotedAt !== 0) ackedAfterPromotion++;
        } catch (e) {
          if (isHeraldError(e)) failures.set(e.code, (failures.get(e.code) ?? 0) + 1);
          else untyped.push(e);
          await pause(50);
        }
      }
    })();
    let newPort: number;
    try {
      newPort = await setup.waitForFailover(oldPort, 30_000);
      promotedAt = Date.now();
    } finally {
      if (promotedAt === 0) stopped = true;
      await publishing;
    }
    assert.notEqual(newPort, oldPort);
    assert.deepEqual(untyped, [], 'publishes failed with errors that are not HeraldErrors');

    // Replicated publishes work again once the other replica follows the new master.
    // Asks the sentinel each time: on a loaded machine it may fail over once more.
    await waitFor(
      async () =>
        Number((await infoAt(await setup.masterPort(), 'replication')).connected_slaves) >= 1,
      { timeoutMs: 20_000, message: 'the remaining replica did not follow the new master' },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n--- sentinel log ---\n${setup.sentinels[0]?.output()}`);
    });
    const afterFailover = Array.from({ length: 50 }, (_, i) => ({ data: { n: `c${i}` } }));
    await waitFor(
      async () => {
        // The first WAIT may still count the replica as syncing: retry the (deduplicated) batch.
        await backend.publishBatch(
          topic,
          afterFailover.map((e) => ({ ...e, id: e.data.n })),
          replicated,
        );
        return true;
      },
      { timeoutMs: 20_000, message: 'replicated publishes did not succeed after the failover' },
    );
    for (const e of afterFailover) count.acknowledged(e.data.n);

    await waitFor(() => count.deliveredCount === count.publishedCount, {
      timeoutMs: 30_000,
      message: 'acknowledged events were not consumed after the failover',
    });
    const report = count.report();
    const lostBeforeKill = report.lost.filter((id) => id.startsWith('a'));
    assert.deepEqual(lostBeforeKill, [], 'replicated events from before the kill were lost');
    assert.deepEqual(report.lost, []);
    const failed = [...failures].map(([code, n]) => `${code}×${n}`).join(', ') || 'none';
    console.log(
      `sentinel failover: promoted after ${promotedAt - killedAt} ms; ` +
        `${seq} publishes during/after it, failed: ${failed}; ${describeReport('delivery', report)}; subscription status: ${statuses.map((s) => s.type).join(',')}`,
    );
  });
});

void describe('Redis Cluster: redis+cluster://host:port', () => {
  let cluster: RedisClusterSetup;
  let backend: RedisBackend;
  const prefix = uniquePrefix('cluster');
  // Fixed names: a partition's slot depends on the topic name only (the prefix is outside the hash tag).
  const single = defineTopic({ name: 'cluster-single' });
  const spread = defineTopic({ name: 'cluster-spread', partitions: 4 });

  before(async () => {
    cluster = await startCluster({ masters: 3 });
    backend = await RedisBackend.connect({ url: cluster.url, prefix });
  });
  after(async () => {
    await backend?.close();
    await cluster?.stop();
  });

  const slotOf = (key: string): Promise<number> =>
    backend.conn.send<number>(['CLUSTER', 'KEYSLOT', key]);

  void test("each partition's stream, dead letters and dedupe keys share a slot; partitions spread over slots and nodes", async () => {
    assert.equal(backend.conn.kind, 'cluster');
    const slots = new Set<number>();
    for (let p = 0; p < spread.partitions; p++) {
      const k = partitionKeys(prefix, spread, p);
      const slot = await slotOf(k.stream);
      assert.equal(await slotOf(k.dlq), slot, `partition ${p}: dlq in another slot`);
      assert.equal(await slotOf(`${k.dedupePrefix}some-id`), slot, `partition ${p}: dedupe key`);
      slots.add(slot);
    }
    assert.equal(slots.size, spread.partitions, 'two partitions share a slot');
    const owners = new Set<number>();
    const shards = await backend.conn.send<[number, number, [string, number]][]>([
      'CLUSTER',
      'SLOTS',
    ]);
    for (const slot of slots) {
      const owner = shards.find(([from, to]) => slot >= from && slot <= to);
      assert.ok(owner, `no node owns slot ${slot}`);
      owners.add(Number(owner[2][1]));
    }
    assert.ok(owners.size >= 2, `all partitions on one node: ${[...owners].join(',')}`);
  });

  void test('publishing to 4 partitions with keys, dedupe by id (a Lua script per partition), no CROSSSLOT', async () => {
    const movedBefore = await cluster.movedReplies();
    const events = Array.from({ length: 80 }, (_, i) => ({
      id: `e${i}`,
      key: `customer-${i % 13}`,
      data: { n: `e${i}` },
    }));
    const receipts = await backend.publishBatch(spread, events);
    assert.equal(receipts.length, 80);
    assert.equal(new Set(receipts.map((r) => r.partition)).size, 4, 'keys did not spread');
    assert.ok(receipts.every((r) => !r.duplicate));
    // Same ids again: the dedupe script answers from each partition's node.
    const again = await backend.publishBatch(spread, events);
    assert.ok(again.every((r) => r.duplicate));
    let stored = 0;
    for (let p = 0; p < spread.partitions; p++) {
      const stream = partitionKeys(prefix, spread, p).stream;
      stored += await backend.conn.send<number>(['XLEN', stream], { key: stream });
    }
    assert.equal(stored, 80);
    // A registry read goes to the node that owns the registry key.
    assert.deepEqual(
      (await backend.registry.list()).map((t) => t.name),
      ['cluster-spread'],
    );
    // Every command went straight to the node owning its key, also those sent without one.
    assert.equal((await cluster.movedReplies()) - movedBefore, 0, 'commands were redirected');
  });

  void test('one XREADGROUP over partitions in different slots is refused with CROSSSLOT', async () => {
    // Why the consumer reads each partition apart on a cluster (see the next test).
    const [a, b] = [0, 1].map((p) => partitionKeys(prefix, spread, p).stream) as [string, string];
    await assert.rejects(
      backend.conn.send(['XREAD', 'COUNT', '1', 'STREAMS', a, b, '0', '0'], { key: a }),
      /CROSSSLOT/,
    );
  });

  void test('a 4-partition topic is consumed end to end: one read per partition, lost = 0', async () => {
    const count = new DeliveryCount();
    const sub = backend.subscribe(spread, { group: 'spread-readers', startFrom: 'new' }, (e) => {
      count.delivered(nOf(e));
    });
    try {
      await sub.ready;
      const events = Array.from({ length: 200 }, (_, i) => ({
        key: `k${i % 17}`,
        data: { n: `m${i}` },
      }));
      const receipts = await backend.publishBatch(spread, events);
      assert.equal(new Set(receipts.map((r) => r.partition)).size, 4);
      for (const e of events) count.acknowledged(e.data.n);
      await waitFor(() => count.deliveredCount === 200, {
        timeoutMs: 20_000,
        message: 'not every event of the 4 partitions was consumed',
      });
      assert.deepEqual(count.report().lost, []);
      assert.deepEqual(count.report().unexpected, []);
    } finally {
      await sub.close();
    }
  });

  void test('a 1-partition topic: 200 events consumed end to end; a poison event dead-lettered after maxAttempts, then replayed', async () => {
    const movedBefore = await cluster.movedReplies();
    const count = new DeliveryCount();
    let poisonRuns = 0;
    let healed = false;
    const sub = backend.subscribe(
      single,
      {
        group: 'billing',
        startFrom: 'beginning',
        maxAttempts: 2,
        backoff: { initialMs: 10, maxMs: 20 },
      },
      (e) => {
        if (nOf(e) === 'poison') {
          poisonRuns++;
          if (!healed) throw new Error('cannot handle this one yet');
        }
        count.delivered(nOf(e));
      },
    );
    try {
      await sub.ready;
      const events = Array.from({ length: 200 }, (_, i) => ({ data: { n: `s${i}` } }));
      await backend.publishBatch(single, events);
      for (const e of events) count.acknowledged(e.data.n);
      await backend.publish(single, { id: 'poison-1', data: { n: 'poison' } });
      await waitFor(() => count.deliveredCount === 200, {
        timeoutMs: 20_000,
        message: 'not every event was consumed',
      });
      assert.deepEqual(count.report().lost, []);

      await waitFor(async () => (await backend.deadLetters.list(single)).length === 1, {
        timeoutMs: 20_000,
        message: 'the poison event was not dead-lettered',
      });
      const dead = await backend.deadLetters.list(single);
      assert.equal(dead[0]?.attempts, 2);
      assert.equal(poisonRuns, 2);

      healed = true;
      assert.equal(await backend.deadLetters.replay(single), 1);
      await waitFor(() => count.report().delivered === 201, {
        timeoutMs: 20_000,
        message: 'the replayed event was not consumed',
      });
      assert.equal((await backend.deadLetters.list(single)).length, 0);
      assert.equal((await cluster.movedReplies()) - movedBefore, 0, 'commands were redirected');
    } finally {
      await sub.close({ deadlineMs: 2000 });
    }
  });
});

void describe('Sentinel and Cluster URLs with nothing answering', () => {
  for (const scheme of ['redis+sentinel', 'redis+cluster'] as const) {
    void test(`${scheme}: rejects with a ConnectionError once the connect timeout is over`, async () => {
      const port = await getFreePort();
      const url = `${scheme}://127.0.0.1:${port}${scheme === 'redis+sentinel' ? '/mymaster' : ''}`;
      const started = Date.now();
      await assert.rejects(
        connect({ url, connectTimeoutMs: 1000 }),
        (e: unknown) => e instanceof ConnectionError && /ECONNREFUSED|root nodes/.test(e.message),
      );
      // node-redis's cluster gives up after one pass over its nodes: the connection retries it
      // until the timeout, as a standalone client does.
      assert.ok(Date.now() - started >= 900, 'gave up before the connect timeout');
    });
  }
});
