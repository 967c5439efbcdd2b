/** Conformance: publish-side guarantees — validation before any write, dedupe by id, schema validation, partitions, raw codec. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Delivery, OutgoingEvent, PublishReceipt } from '../core/event.ts';
import { defineTopic } from '../core/topic.ts';
import {
  assertUnsupported,
  assertValidationNames,
  paymentSchema,
  TEST_TIMEOUT_MS,
  waitFor,
  withBackend,
  type ConformanceFactory,
  type Payment,
} from './harness.ts';
import { validationTests } from './suite-validation.ts';

export function publishingTests(factory: ConformanceFactory): void {
  validationTests(factory);

  test('a publish retried with the same id stores one event', { timeout: TEST_TIMEOUT_MS }, () =>
    withBackend(factory, async (b) => {
      const topic = defineTopic({ name: 'conf.dedupe' });
      const first = await b.publish(topic, { id: 'order-42', data: { n: 1 } });
      const again = await b.publish(topic, { id: 'order-42', data: { n: 1 } });
      assert.equal(first.duplicate, false);
      assert.equal(again.duplicate, true);
      assert.equal(again.id, 'order-42');
      assert.equal(again.partition, first.partition);
      assert.equal(again.position, first.position, 'the duplicate points at the stored copy');
      const batch = await b.publishBatch(topic, [
        { id: 'order-42', data: { n: 1 } },
        { id: 'order-43', data: { n: 2 } },
      ]);
      assert.deepEqual(
        batch.map((r) => r.duplicate),
        [true, false],
      );
      const marker = await b.publish(topic, { data: { marker: true } });
      const seen: string[] = [];
      const sub = b.subscribe(
        topic,
        { group: 'g', startFrom: 'beginning', concurrency: 1 },
        (e) => {
          seen.push(e.id);
        },
      );
      await sub.ready;
      await waitFor(() => seen.includes(marker.id));
      assert.deepEqual(seen, ['order-42', 'order-43', marker.id]);
    }),
  );

  test(
    'data the schema rejects fails the publish with a ValidationError naming the field; nothing is stored',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.schema', schema: paymentSchema });
        const seen: Delivery<Payment>[] = [];
        const sub = b.subscribe(
          topic,
          { group: 'g', startFrom: 'beginning', concurrency: 1 },
          (e) => {
            seen.push(e);
          },
        );
        await sub.ready;
        const badAmount = {
          data: { amount: 'ten', currency: 'EUR' },
        } as unknown as OutgoingEvent<Payment>;
        await assert.rejects(b.publish(topic, badAmount), assertValidationNames('amount'));
        const badCurrency = { data: { amount: 10 } } as unknown as OutgoingEvent<Payment>;
        // A batch is validated as a whole before anything is written: the valid event is not stored either.
        await assert.rejects(
          b.publishBatch(topic, [{ data: { amount: 1, currency: 'EUR' } }, badCurrency]),
          assertValidationNames('currency'),
        );
        const ok = await b.publish(topic, { data: { amount: 10, currency: 'EUR' } });
        await waitFor(() => seen.length > 0);
        assert.deepEqual(
          seen.map((e) => e.id),
          [ok.id],
          'only the valid event was stored',
        );
        assert.deepEqual(seen[0]?.data, { amount: 10, currency: 'EUR' });
      }),
  );

  if (factory.features.partitions) {
    test(
      'partitions: same-key events keep publish order, and every partition is used',
      { timeout: TEST_TIMEOUT_MS },
      () =>
        withBackend(factory, async (b) => {
          const topic = defineTopic({ name: 'conf.partitions', partitions: 4 });
          const keys = Array.from({ length: 20 }, (_, k) => `customer-${k}`);
          const seqs = new Map<string, number[]>();
          const deliveredPartition = new Map<string, number>();
          let total = 0;
          const sub = b.subscribe(
            topic,
            { group: 'g', startFrom: 'beginning', concurrency: 1 },
            (e) => {
              const d = e.data as { key: string; seq: number };
              seqs.set(d.key, [...(seqs.get(d.key) ?? []), d.seq]);
              deliveredPartition.set(e.id, e.delivery.partition);
              total++;
            },
          );
          await sub.ready;
          const receipts: PublishReceipt[] = [];
          const rounds = 15;
          for (let seq = 0; seq < rounds; seq += 3) {
            const chunk = [];
            for (let s = seq; s < seq + 3; s++)
              for (const key of keys) chunk.push({ key, data: { key, seq: s } });
            receipts.push(...(await b.publishBatch(topic, chunk)));
          }
          await waitFor(() => total >= keys.length * rounds, {
            message: `${total} events arrived`,
          });
          const expected = Array.from({ length: rounds }, (_, s) => s);
          for (const key of keys) assert.deepEqual(seqs.get(key), expected, `order of key ${key}`);
          const byKey = new Map<string, Set<number>>();
          receipts.forEach((r, i) => {
            const key = keys[i % keys.length] as string;
            byKey.set(key, (byKey.get(key) ?? new Set()).add(r.partition));
            assert.equal(
              deliveredPartition.get(r.id),
              r.partition,
              'delivered from the partition it was stored on',
            );
          });
          for (const [key, parts] of byKey)
            assert.equal(parts.size, 1, `key ${key} stayed on one partition`);
          assert.deepEqual(
            [...new Set(receipts.map((r) => r.partition))].sort(),
            [0, 1, 2, 3],
            'all partitions used',
          );
        }),
    );
  } else {
    test(
      'partitions are declared unsupported: publishing to a 4-partition topic throws UnsupportedError',
      { timeout: TEST_TIMEOUT_MS },
      () =>
        withBackend(factory, async (b) => {
          const topic = defineTopic({ name: 'conf.partitions', partitions: 4 });
          await assertUnsupported('publish to a partitioned topic', () =>
            b.publish(topic, { key: 'k', data: 1 }),
          );
        }),
    );
  }

  if (factory.features.rawCodec) {
    test(
      'raw codec: an event is stored as plain fields and arrives as them',
      { timeout: TEST_TIMEOUT_MS },
      () =>
        withBackend(factory, async (b) => {
          const topic = defineTopic({ name: 'conf.raw', codec: 'raw' });
          const got: Delivery<unknown>[] = [];
          const sub = b.subscribe(topic, { group: 'g', startFrom: 'beginning' }, (e) => {
            got.push(e);
          });
          await sub.ready;
          const r = await b.publish(topic, { data: { order: '42', status: 'paid' } });
          await assert.rejects(b.publish(topic, { data: { n: 1 } }), assertValidationNames('data'));
          await waitFor(() => got.length === 1);
          assert.deepEqual(got[0]?.data, { order: '42', status: 'paid' });
          assert.equal(got[0]?.id, r.id);
        }),
    );
  } else {
    test(
      'raw codec is declared unsupported: publishing to a raw topic throws UnsupportedError',
      { timeout: TEST_TIMEOUT_MS },
      () =>
        withBackend(factory, async (b) => {
          const topic = defineTopic({ name: 'conf.raw', codec: 'raw' });
          await assertUnsupported('publish to a raw-codec topic', () =>
            b.publish(topic, { data: { a: '1' } }),
          );
        }),
    );
  }
}
