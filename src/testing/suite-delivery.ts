/** Conformance: what is published arrives, intact, to every subscriber of a group. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Delivery, OutgoingEvent, PublishReceipt } from '../core/event.ts';
import { defineTopic } from '../core/topic.ts';
import { DeliveryChecker } from './checker.ts';
import {
  assertAllDelivered,
  TEST_TIMEOUT_MS,
  waitFor,
  withBackend,
  type ConformanceFactory,
} from './harness.ts';

interface Sample {
  readonly n: number;
  readonly text: string;
  readonly nested: { readonly list: readonly unknown[]; readonly empty: Record<string, never> };
  readonly nothing: null;
}

function sampleEvent(i: number): OutgoingEvent<Sample> {
  const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
  return {
    data: {
      n: i,
      text: `héllo ✓ "quoted" ${i}`,
      nested: { list: [i, null, true, 'x', 1.5], empty: {} },
      nothing: null,
    },
    type: `conf.sample.${i % 3}`,
    source: `/testing/source-${i % 2}`,
    key: `key-${i % 7}`,
    subject: `subject-${i}`,
    traceparent: `00-${hex(i + 1, 32)}-${hex(i + 1, 16)}-01`,
    headers: { 'x-index': String(i), 'x-unicode': 'grüße', 'x-empty': '' },
    // Every other event carries its own id and time; the others get derived ones.
    ...(i % 2 === 0
      ? { id: `explicit-${i}`, time: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString() }
      : {}),
  };
}

export function deliveryTests(factory: ConformanceFactory): void {
  test(
    '100 events arrive with payload, headers and attributes intact',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.payload' });
        const got = new Map<string, Delivery<unknown>>();
        const sub = b.subscribe(topic, { group: 'g', startFrom: 'beginning' }, (e) => {
          got.set(e.id, e);
        });
        await sub.ready;
        const events = Array.from({ length: 100 }, (_, i) => sampleEvent(i));
        const before = Date.now();
        const receipts: PublishReceipt[] = [];
        for (const e of events.slice(0, 50)) receipts.push(await b.publish(topic, e));
        receipts.push(...(await b.publishBatch(topic, events.slice(50))));
        await waitFor(() => got.size >= 100, { message: `only ${got.size} of 100 events arrived` });
        assert.equal(got.size, 100);

        events.forEach((sent, i) => {
          const r = receipts[i] as PublishReceipt;
          const d = got.get(r.id);
          assert.ok(d, `event #${i} (receipt id ${r.id}) was not delivered under its receipt's id`);
          assert.equal(r.topic, topic.name);
          assert.equal(r.duplicate, false);
          assert.deepEqual(d.data, sent.data);
          assert.deepEqual(d.headers, sent.headers);
          assert.equal(d.type, sent.type);
          assert.equal(d.source, sent.source);
          assert.equal(d.key, sent.key);
          assert.equal(d.subject, sent.subject);
          assert.equal(d.traceparent, sent.traceparent);
          assert.equal(d.specversion, '1.0');
          assert.equal(d.datacontenttype, 'application/json');
          if (sent.id !== undefined) {
            assert.equal(r.id, sent.id);
            assert.equal(d.id, sent.id);
            assert.equal(d.time, sent.time);
          } else {
            assert.ok(d.id.length > 0, 'a derived id is not empty');
            const t = Date.parse(d.time);
            assert.ok(
              Math.abs(t - before) < 60_000,
              `derived time ${d.time} is not the time of storing`,
            );
          }
          assert.equal(d.delivery.topic, topic.name);
          assert.equal(d.delivery.group, 'g');
          assert.equal(d.delivery.consumer, sub.consumer);
          assert.equal(d.delivery.partition, r.partition);
          assert.equal(d.delivery.position, r.position);
          assert.equal(d.delivery.attempt, 1);
        });
        const derivedIds = receipts.filter((_, i) => i % 2 === 1).map((r) => r.id);
        assert.equal(new Set(derivedIds).size, derivedIds.length, 'derived ids are unique');
      }),
  );

  test(
    'an event with only data gets the default type, a source, empty headers and no subject',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.defaults', defaultType: 'conf.defaulted' });
        const got: Delivery<unknown>[] = [];
        const sub = b.subscribe(topic, { group: 'g', startFrom: 'beginning' }, (e) => {
          got.push(e);
        });
        await sub.ready;
        const r = await b.publish(topic, { data: 42 });
        await waitFor(() => got.length === 1);
        const d = got[0] as Delivery<unknown>;
        assert.equal(d.id, r.id);
        assert.equal(d.data, 42);
        assert.equal(d.type, 'conf.defaulted');
        assert.ok(typeof d.source === 'string' && d.source.length > 0);
        assert.deepEqual(d.headers, {});
        assert.equal(d.subject, undefined);
        assert.equal(d.key, undefined);
        assert.equal(d.traceparent, undefined);
      }),
  );

  test(
    '5,000 events to 50 subscribers of one group: none lost, load shared',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.workers' });
        const checker = new DeliveryChecker();
        const perConsumer = new Map<string, number>();
        const subs = Array.from({ length: 50 }, () =>
          b.subscribe(topic, { group: 'workers', startFrom: 'beginning' }, (e) => {
            checker.handled(e);
            perConsumer.set(e.delivery.consumer, (perConsumer.get(e.delivery.consumer) ?? 0) + 1);
          }),
        );
        await Promise.all(subs.map((s) => s.ready));
        assert.equal(
          new Set(subs.map((s) => s.consumer)).size,
          50,
          'each subscription has its own consumer name',
        );
        for (let i = 0; i < 5000; i += 500) {
          const batch = Array.from({ length: 500 }, (_, j) => ({ data: { n: i + j } }));
          for (const r of await b.publishBatch(topic, batch)) checker.published(r);
        }
        await assertAllDelivered(checker);
        assert.equal(checker.report().published, 5000);
        assert.ok(
          perConsumer.size > 1,
          `one subscriber handled everything: ${JSON.stringify([...perConsumer])}`,
        );
      }),
  );
}
