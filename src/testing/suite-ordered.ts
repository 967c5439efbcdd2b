/**
 * Conformance: ordered subscriptions (`ordered: true`). Several instances of one group share
 * the partitions, one owner each, evenly; each key's events are handled in publish order
 * (ordering-checker.ts); a failing event is retried before the next one of its partition and
 * dead-lettered after `maxAttempts`; an instance that closes hands its partitions over;
 * unordered subscriptions of other groups on the same topic are unaffected.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend, Subscription } from '../core/contract.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import { DeliveryChecker } from './checker.ts';
import {
  assertAllDelivered,
  delay,
  TEST_TIMEOUT_MS,
  waitFor,
  WAIT_MS,
  withBackend,
  type ConformanceFactory,
} from './harness.ts';
import { assertInOrder, describeOrdering, OrderingChecker } from './ordering-checker.ts';

interface Keyed {
  readonly key: string;
  readonly seq: number;
}

/** Short, so that rebalancing in these tests takes a second or two. */
const REBALANCE_MS = 2000;

/** An ordered instance and the partitions it reports owning. */
function orderedInstance(
  b: Backend,
  topic: Topic<Keyed>,
  name: string,
  onEvent: (e: Keyed) => Promise<void> | void,
  extra: { maxAttempts?: number } = {},
): { sub: Subscription; owned: Set<number> } {
  const owned = new Set<number>();
  const sub = b.subscribe(
    topic,
    {
      group: 'ordered',
      consumer: name,
      ordered: true,
      startFrom: 'beginning',
      rebalanceWithinMs: REBALANCE_MS,
      backoff: { initialMs: 10, maxMs: 50 },
      ...extra,
    },
    (e) => onEvent(e.data),
  );
  void (async () => {
    for await (const s of sub.status()) {
      if (s.type === 'partition-assigned') owned.add(s.partition);
      if (s.type === 'partition-revoked' || s.type === 'partition-fenced')
        owned.delete(s.partition);
    }
  })();
  return { sub, owned };
}

/** Resolves once `owners` hold every partition between them, one owner each, shares within one. */
async function evenlyOwned(owners: readonly Set<number>[], partitions: number): Promise<void> {
  await waitFor(
    () => {
      const all = owners.flatMap((o) => [...o]);
      const sizes = owners.map((o) => o.size);
      return (
        all.length === partitions &&
        new Set(all).size === partitions &&
        Math.max(...sizes) - Math.min(...sizes) <= 1
      );
    },
    { timeoutMs: WAIT_MS, message: 'partitions were not shared evenly, one owner each' },
  );
}

function keyed(count: number, keys: number, from = 0) {
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    const data = { key: `k${n % keys}`, seq: Math.floor(n / keys) };
    return { type: 'keyed', key: data.key, data };
  });
}

export function orderedTests(factory: ConformanceFactory): void {
  const partitions = factory.features.partitions ? 6 : 1;

  test(
    'ordered: instances of one group share the partitions, one owner each; every key in order',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic<Keyed>({ name: 'conf.ordered', partitions });
        const order = new OrderingChecker();
        const delivery = new DeliveryChecker();
        // Uneven handler times: without per-partition order, later events would overtake.
        const onEvent = async (e: Keyed): Promise<void> => {
          if (e.seq % 3 === 0) await delay(1 + (e.seq % 5));
          order.handled(e.key, e.seq);
          delivery.handled(`${e.key}#${e.seq}`);
        };
        const instances = ['a', 'b', 'c'].map((n) => orderedInstance(b, topic, n, onEvent));
        await Promise.all(instances.map((i) => i.sub.ready));
        await evenlyOwned(
          instances.map((i) => i.owned),
          partitions,
        );
        const events = keyed(300, 12);
        await b.publishBatch(topic, events);
        for (const e of events) delivery.published(`${e.data.key}#${e.data.seq}`);
        await assertAllDelivered(delivery);
        const report = order.report();
        assertInOrder(report);
        assert.equal(report.handled, 300, describeOrdering(report));
      }),
  );

  test(
    'ordered: a failing event is retried before the next one of its partition, then dead-lettered',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic<Keyed>({ name: 'conf.ordered.retry', partitions: 1 });
        const calls: number[] = [];
        let flaky = 0;
        const { sub } = orderedInstance(
          b,
          topic,
          'only',
          (e) => {
            calls.push(e.seq);
            if (e.seq === 1 && ++flaky < 3) throw new Error('flaky');
            if (e.seq === 3) throw new Error('poison');
          },
          { maxAttempts: 3 },
        );
        await sub.ready;
        await b.publishBatch(topic, keyed(5, 1));
        await waitFor(() => calls.includes(4), {
          timeoutMs: WAIT_MS,
          message: 'event 4 not handled',
        });
        // 1 fails twice and succeeds, 3 fails maxAttempts times and is dead-lettered; nothing overtakes.
        assert.deepEqual(calls, [0, 1, 1, 1, 2, 3, 3, 3, 4]);
        if (factory.features.deadLetters) {
          const dead = await b.deadLetters.list(topic, { group: 'ordered' });
          assert.equal(dead.length, 1);
        }
      }),
  );

  test(
    'ordered: an instance that closes hands its partitions to the others',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic<Keyed>({ name: 'conf.ordered.leave', partitions });
        const order = new OrderingChecker();
        const delivery = new DeliveryChecker();
        const onEvent = (e: Keyed): void => {
          order.handled(e.key, e.seq);
          delivery.handled(`${e.key}#${e.seq}`);
        };
        const a = orderedInstance(b, topic, 'a', onEvent);
        const c = orderedInstance(b, topic, 'c', onEvent);
        await Promise.all([a.sub.ready, c.sub.ready]);
        await evenlyOwned([a.owned, c.owned], partitions);
        const first = keyed(100, 10);
        await b.publishBatch(topic, first);
        await a.sub.close();
        await evenlyOwned([c.owned], partitions);
        const second = keyed(100, 10, 100);
        await b.publishBatch(topic, second);
        for (const e of [...first, ...second]) delivery.published(`${e.data.key}#${e.data.seq}`);
        await assertAllDelivered(delivery);
        assertInOrder(order.report());
      }),
  );

  test(
    'ordered: an unordered group on the same topic gets every event as before',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic<Keyed>({ name: 'conf.ordered.mixed', partitions });
        const ordered = new DeliveryChecker();
        const plain = new DeliveryChecker();
        const o = orderedInstance(b, topic, 'o', (e) => ordered.handled(`${e.key}#${e.seq}`));
        const p = b.subscribe(topic, { group: 'plain', startFrom: 'beginning' }, (e) =>
          plain.handled(`${e.data.key}#${e.data.seq}`),
        );
        await Promise.all([o.sub.ready, p.ready]);
        const events = keyed(100, 10);
        await b.publishBatch(topic, events);
        for (const e of events) {
          ordered.published(`${e.data.key}#${e.data.seq}`);
          plain.published(`${e.data.key}#${e.data.seq}`);
        }
        await assertAllDelivered(ordered);
        await assertAllDelivered(plain);
      }),
  );
}
