/**
 * Ordered subscriptions on a standalone Redis: partitions split evenly, rebalancing when an
 * instance joins or leaves, per-key order, and fencing of an instance paused past its lease.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Subscription, SubscriptionStatus } from '../core/contract.ts';
import { SUBSCRIBE_DEFAULTS } from '../core/subscribe-options.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { DeliveryChecker, describeReport } from '../testing/checker.ts';
import { assertInOrder, describeOrdering, OrderingChecker } from '../testing/ordering-checker.ts';
import { RedisBackend } from './backend.ts';
import { readOwnership } from './ownership-read.ts';
import { OrderedChild, publishKeyed, type Keyed } from './fixtures/ordered-run.ts';

const PARTITIONS = 12;
const KEYS = 100;
/** Short, so the test runs quickly; the default (15 s) is the same code with other numbers. */
const REBALANCE_MS = 3000;

/** One ordered instance in this process: what it owns, what it handled. */
class Instance {
  readonly owned = new Set<number>();
  readonly statuses: SubscriptionStatus[] = [];
  /** Ownership changes seen by the backend's `partitionOwnership` hook. */
  readonly hooked = new Map<string, number>();
  sub!: Subscription;
  private constructor(readonly backend: RedisBackend) {}

  static async start(
    prefix: string,
    topic: Topic<Keyed>,
    name: string,
    onHandled: (e: Keyed) => void,
  ): Promise<Instance> {
    const inst = new Instance(await RedisBackend.connect({ url: testRedisUrl(), prefix }));
    inst.backend.addHook('partitionOwnership', (_t, _g, _c, change) => {
      inst.hooked.set(change, (inst.hooked.get(change) ?? 0) + 1);
    });
    inst.sub = inst.backend.subscribe(
      topic,
      {
        group: 'g',
        consumer: name,
        ordered: true,
        startFrom: 'beginning',
        concurrency: PARTITIONS,
        rebalanceWithinMs: REBALANCE_MS,
      },
      (event) => onHandled(event.data),
    );
    void (async () => {
      for await (const s of inst.sub.status()) {
        inst.statuses.push(s);
        if (s.type === 'partition-assigned') inst.owned.add(s.partition);
        if (s.type === 'partition-revoked' || s.type === 'partition-fenced')
          inst.owned.delete(s.partition);
      }
    })();
    await inst.sub.ready;
    return inst;
  }

  async close(): Promise<void> {
    await this.backend.close({ deadlineMs: 2000 });
  }
}

/** Waits until the instances own `counts` partitions each (in order); returns the time it took. */
async function settled(instances: readonly Instance[], counts: readonly number[]): Promise<number> {
  const t0 = Date.now();
  await waitFor(
    () => {
      const all = new Set(instances.flatMap((i) => [...i.owned]));
      return all.size === PARTITIONS && instances.every((i, n) => i.owned.size === counts[n]);
    },
    {
      timeoutMs: 4 * REBALANCE_MS + 10_000,
      message: `partitions did not settle to ${counts.join('/')}`,
    },
  );
  return Date.now() - t0;
}

void describe('ordered subscriptions (standalone Redis)', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => {});
  });

  test('12 partitions over 3 instances: 4 each, every key in order, nothing lost', async () => {
    const prefix = uniquePrefix('ordered-split');
    const topic = defineTopic<Keyed>({ name: 'orders', partitions: PARTITIONS });
    const order = new OrderingChecker();
    const delivery = new DeliveryChecker();
    const onHandled = (e: Keyed): void => {
      order.handled(e.key, e.seq);
      delivery.handled(`${e.key}#${e.seq}`);
    };
    const instances: Instance[] = [];
    for (const name of ['a', 'b', 'c']) {
      const inst = await Instance.start(prefix, topic, name, onHandled);
      cleanup.push(() => inst.close());
      instances.push(inst);
    }
    const ms = await settled(instances, [4, 4, 4]);
    // The same changes reach the backend's hooks (what metrics observe).
    const first = instances[0] as Instance;
    assert.equal(first.hooked.get('assigned') ?? 0, 4 + (first.hooked.get('revoked') ?? 0));
    console.log(`# 3 instances settled to 4/4/4 partitions in ${ms} ms`);
    const publisher = await RedisBackend.connect({ url: testRedisUrl(), prefix });
    cleanup.push(() => publisher.close());
    for (const id of await publishKeyed(publisher, topic, 1200, KEYS)) delivery.published(id);
    await waitFor(() => delivery.allDelivered(), { timeoutMs: 30_000, message: 'not all handled' });
    const report = order.report();
    console.log(`# ${describeOrdering(report)}; ${describeReport(delivery.report())}`);
    assertInOrder(report);
    assert.equal(delivery.report().lost, 0);
    // What tools read (ownership-read.ts) agrees with what the instances say they own.
    const seen = await readOwnership(publisher.conn, prefix, topic, 'g');
    for (const row of seen) {
      const holder = instances.find((i) => i.owned.has(row.partition));
      assert.equal(row.owner, holder?.sub.consumer, `owner of partition ${row.partition}`);
      assert.ok(row.epoch >= 1);
    }
  });

  test('an instance that joins gets its share; one that closes hands its share over', async () => {
    const prefix = uniquePrefix('ordered-join');
    const topic = defineTopic<Keyed>({ name: 'orders', partitions: PARTITIONS });
    const order = new OrderingChecker();
    const delivery = new DeliveryChecker();
    const onHandled = (e: Keyed): void => {
      order.handled(e.key, e.seq);
      delivery.handled(`${e.key}#${e.seq}`);
    };
    const a = await Instance.start(prefix, topic, 'a', onHandled);
    cleanup.push(() => a.close());
    const b = await Instance.start(prefix, topic, 'b', onHandled);
    cleanup.push(() => b.close());
    await settled([a, b], [6, 6]);
    const publisher = await RedisBackend.connect({ url: testRedisUrl(), prefix });
    cleanup.push(() => publisher.close());
    // Events flow while the group rebalances.
    let publishing = true;
    let seq = 0;
    const flow = (async () => {
      while (publishing) {
        const ids = await publishKeyed(publisher, topic, 50, KEYS, seq);
        for (const id of ids) delivery.published(id);
        seq += 50;
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const c = await Instance.start(prefix, topic, 'c', onHandled);
    cleanup.push(() => c.close());
    const joinMs = await settled([a, b, c], [4, 4, 4]);
    await b.close();
    const leaveMs = await settled([a, c], [6, 6]);
    console.log(
      `# join: 6/6 -> 4/4/4 in ${joinMs} ms; close: 4/4/4 -> 6/6 in ${leaveMs} ms (bound ${REBALANCE_MS} ms)`,
    );
    publishing = false;
    await flow;
    await waitFor(() => delivery.allDelivered(), { timeoutMs: 30_000, message: 'not all handled' });
    assertInOrder(order.report());
    assert.equal(delivery.report().lost, 0);
    assert.ok(joinMs < 2 * REBALANCE_MS, `join rebalanced in ${joinMs} ms`);
    assert.ok(leaveMs < 2 * REBALANCE_MS, `close rebalanced in ${leaveMs} ms`);
    assert.ok(
      b.statuses.some((s) => s.type === 'partition-revoked'),
      'the closed instance reported handing its partitions over',
    );
  });

  test('an instance paused past its lease is fenced: Redis rejects its late acknowledgement', async () => {
    const prefix = uniquePrefix('ordered-fence');
    const url = testRedisUrl();
    const topic = defineTopic<Keyed>({ name: 'fenced', partitions: 2 });
    const order = new OrderingChecker();
    const delivery = new DeliveryChecker();
    // The child handles slowly, so a pause lands while it holds an event.
    const child = await OrderedChild.start({
      url,
      prefix,
      topic: 'fenced',
      partitions: 2,
      group: 'g',
      consumer: 'paused',
      delayMs: 150,
      rebalanceWithinMs: REBALANCE_MS,
    });
    cleanup.push(() => child.kill());
    child.onHandled = (key, seq) => {
      order.handled(key, seq);
      delivery.handled(`${key}#${seq}`);
    };
    await waitFor(() => child.owned.size === 2, { timeoutMs: 20_000, message: 'child owns none' });
    const publisher = await RedisBackend.connect({ url, prefix });
    cleanup.push(() => publisher.close());
    for (const id of await publishKeyed(publisher, topic, 200, 10)) delivery.published(id);
    await waitFor(() => child.handled > 3, { timeoutMs: 20_000, message: 'child handled nothing' });
    child.pause();
    const pausedAt = Date.now();
    const other = await Instance.start(prefix, topic, 'other', (e) => {
      order.handled(e.key, e.seq);
      delivery.handled(`${e.key}#${e.seq}`);
    });
    cleanup.push(() => other.close());
    await waitFor(() => other.owned.size === 2, {
      timeoutMs: 4 * REBALANCE_MS + 10_000,
      message: 'the other instance did not take over from the paused one',
    });
    const tookOverMs = Date.now() - pausedAt;
    child.resume();
    await waitFor(() => child.rejected.includes('acknowledge'), {
      timeoutMs: 20_000,
      message: 'the paused instance reported no rejected acknowledgement',
    });
    await waitFor(() => delivery.allDelivered(), { timeoutMs: 30_000, message: 'not all handled' });
    const report = order.report();
    console.log(
      `# paused instance: taken over after ${tookOverMs} ms (bound ${REBALANCE_MS} ms); ` +
        `fenced: ${child.rejected.join(', ')}; ${describeOrdering(report)}`,
    );
    assertInOrder(report);
    assert.equal(delivery.report().lost, 0, describeReport(delivery.report()));
    assert.ok(tookOverMs < REBALANCE_MS + 3000, `take-over in ${tookOverMs} ms`);
  });

  test("with the default bound (15 s), a SIGKILLed instance's partitions move within it", async () => {
    const prefix = uniquePrefix('ordered-default');
    const url = testRedisUrl();
    const base = {
      url,
      prefix,
      topic: 'defaults',
      partitions: 4,
      group: 'g',
      delayMs: 1,
      rebalanceWithinMs: SUBSCRIBE_DEFAULTS.rebalanceWithinMs,
    };
    const killed = await OrderedChild.start({ ...base, consumer: 'killed' });
    cleanup.push(() => killed.kill());
    const survivor = await OrderedChild.start({ ...base, consumer: 'survivor' });
    cleanup.push(() => survivor.kill());
    await waitFor(() => killed.owned.size === 2 && survivor.owned.size === 2, {
      timeoutMs: 3 * SUBSCRIBE_DEFAULTS.rebalanceWithinMs,
      message: 'the two instances did not split 2/2',
    });
    await killed.kill();
    const killedAt = Date.now();
    await waitFor(() => survivor.owned.size === 4, {
      timeoutMs: 2 * SUBSCRIBE_DEFAULTS.rebalanceWithinMs,
      message: 'the survivor did not take over the partitions of the killed instance',
    });
    const movedMs = Date.now() - killedAt;
    console.log(`# default bound: SIGKILLed instance's partitions moved in ${movedMs} ms`);
    assert.ok(movedMs <= SUBSCRIBE_DEFAULTS.rebalanceWithinMs, `moved in ${movedMs} ms`);
  });

  test('rebalanceWithinMs is validated', async () => {
    const backend = await RedisBackend.connect({ url: testRedisUrl(), prefix: uniquePrefix() });
    try {
      const topic = defineTopic<Keyed>({ name: 'x' });
      assert.throws(
        () =>
          backend.subscribe(topic, { group: 'g', ordered: true, rebalanceWithinMs: 10 }, () => {}),
        /rebalanceWithinMs must be an integer of at least 1000/,
      );
    } finally {
      await backend.close();
    }
  });
});
