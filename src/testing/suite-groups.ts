/** Conformance: consumer groups each get every event, starting where `startFrom` says. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend, StartFrom } from '../core/contract.ts';
import type { PublishReceipt } from '../core/event.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import { DeliveryChecker } from './checker.ts';
import {
  assertAllDelivered,
  TEST_TIMEOUT_MS,
  waitFor,
  withBackend,
  type ConformanceFactory,
} from './harness.ts';

/** A concurrency-1 subscriber that records event ids in the order it handled them. */
async function orderedReader(
  b: Backend,
  topic: Topic<unknown>,
  group: string,
  startFrom: StartFrom,
) {
  const ids: string[] = [];
  const sub = b.subscribe(topic, { group, startFrom, concurrency: 1 }, (e) => {
    ids.push(e.id);
  });
  await sub.ready;
  return { ids, sub };
}

function publishN(
  b: Backend,
  topic: Topic<unknown>,
  n: number,
  phase: string,
): Promise<PublishReceipt[]> {
  return b.publishBatch(
    topic,
    Array.from({ length: n }, (_, i) => ({ data: { phase, n: i } })),
  );
}

const idsOf = (receipts: readonly PublishReceipt[]) => receipts.map((r) => r.id);

export function groupTests(factory: ConformanceFactory): void {
  test('two groups each receive every event', { timeout: TEST_TIMEOUT_MS }, () =>
    withBackend(factory, async (b) => {
      const topic = defineTopic({ name: 'conf.groups' });
      const billing = new DeliveryChecker();
      const shipping = new DeliveryChecker();
      const subs = [
        b.subscribe(topic, { group: 'billing', startFrom: 'beginning' }, (e) => billing.handled(e)),
        b.subscribe(topic, { group: 'shipping', startFrom: 'beginning' }, (e) =>
          shipping.handled(e),
        ),
      ];
      await Promise.all(subs.map((s) => s.ready));
      for (const r of await publishN(b, topic, 200, 'all')) {
        billing.published(r);
        shipping.published(r);
      }
      await assertAllDelivered(billing);
      await assertAllDelivered(shipping);
    }),
  );

  test(
    "a later group with startFrom 'beginning' gets earlier events; 'new' only later ones",
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.start' });
        const earlier = await publishN(b, topic, 50, 'earlier');
        const fromBeginning = await orderedReader(b, topic, 'late-beginning', 'beginning');
        const fromNew = await orderedReader(b, topic, 'late-new', 'new');
        const later = await publishN(b, topic, 50, 'later');
        const marker = await b.publish(topic, { data: { phase: 'marker' } });
        // Concurrency 1 on one partition: once the marker is handled, everything before it was too.
        await waitFor(
          () => fromBeginning.ids.includes(marker.id) && fromNew.ids.includes(marker.id),
        );
        assert.deepEqual(fromBeginning.ids, [...idsOf(earlier), ...idsOf(later), marker.id]);
        assert.deepEqual(fromNew.ids, [...idsOf(later), marker.id]);
      }),
  );

  test('startFrom {position} starts right after that position', { timeout: TEST_TIMEOUT_MS }, () =>
    withBackend(factory, async (b) => {
      const topic = defineTopic({ name: 'conf.position' });
      const first = await publishN(b, topic, 10, 'first');
      const reader = await orderedReader(b, topic, 'from-position', {
        position: (first[4] as PublishReceipt).position,
      });
      const later = await publishN(b, topic, 5, 'later');
      const last = (later[4] as PublishReceipt).id;
      await waitFor(() => reader.ids.includes(last));
      assert.deepEqual(reader.ids, [...idsOf(first.slice(5)), ...idsOf(later)]);
    }),
  );

  test(
    'a group resumes where it left off: events published while no one listened arrive',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.resume' });
        const first = await orderedReader(b, topic, 'resumer', 'new');
        const before = await publishN(b, topic, 5, 'before');
        await waitFor(() => first.ids.length === 5);
        await first.sub.close();
        const whileAway = await publishN(b, topic, 5, 'away');
        // An existing group ignores startFrom: it continues after what it handled.
        const second = await orderedReader(b, topic, 'resumer', 'new');
        const last = (whileAway[4] as PublishReceipt).id;
        await waitFor(() => second.ids.includes(last));
        assert.deepEqual(first.ids, idsOf(before));
        assert.deepEqual(second.ids, idsOf(whileAway));
      }),
  );
}
