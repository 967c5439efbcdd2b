/** Conformance: subscriptions coming and going, close deadlines, middleware, and a closed backend. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend, Handler, Subscription } from '../core/contract.ts';
import { ErrorCode } from '../core/errors.ts';
import type { PublishReceipt } from '../core/event.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import { DeliveryChecker } from './checker.ts';
import {
  assertAllDelivered,
  assertRejectsWithCode,
  delay,
  Gate,
  TEST_TIMEOUT_MS,
  waitFor,
  withBackend,
  type ConformanceFactory,
} from './harness.ts';

/** Keeps `slots` subscriptions alive, closing and replacing one every 50-100 ms until stopped. */
function churn(
  b: Backend,
  slots: Subscription[],
  open: () => Subscription,
): { stop(): Promise<number> } {
  let running = true;
  let replaced = 0;
  const loop = (async () => {
    while (running) {
      await delay(50 + Math.floor(Math.random() * 50));
      if (!running) break;
      const i = replaced % slots.length;
      const old = slots[i] as Subscription;
      slots[i] = open();
      replaced++;
      await old.close({ deadlineMs: 1000 });
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return replaced;
    },
  };
}

export function lifecycleTests(factory: ConformanceFactory): void {
  test(
    '5,000 events while subscribers close and reopen again and again: none lost',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.churn' });
        const checker = new DeliveryChecker();
        // Short visibility timeout: events a closed subscriber had read but not started come back quickly.
        const open = () =>
          b.subscribe(
            topic,
            {
              group: 'churn',
              startFrom: 'beginning',
              concurrency: 5,
              batchSize: 20,
              visibilityTimeoutMs: 400,
            },
            async (e) => {
              await delay(1); // slow enough that a subscriber closes with events read but not started
              checker.handled(e);
            },
          );
        const slots = Array.from({ length: 4 }, open);
        await Promise.all(slots.map((s) => s.ready));
        const churner = churn(b, slots, open);
        for (let i = 0; i < 5000; i += 100) {
          const batch = Array.from({ length: 100 }, (_, j) => ({ data: { n: i + j } }));
          for (const r of await b.publishBatch(topic, batch)) checker.published(r);
          await delay(20);
        }
        const replaced = await churner.stop();
        assert.ok(replaced >= 5, `the churn loop replaced only ${replaced} subscribers`);
        await assertAllDelivered(checker, 30_000);
      }),
  );

  test(
    'close(): finished handlers are acknowledged; one past the deadline is redelivered elsewhere',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.close' });
        const gates = new Map<string, Gate>([
          ['quick', new Gate()],
          ['slow', new Gate()],
        ]);
        const started = new Set<string>();
        const finished = new Set<string>();
        try {
          const first = b.subscribe(
            topic,
            { group: 'g', startFrom: 'beginning', concurrency: 2 },
            async (e) => {
              const name = (e.data as { name: string }).name;
              started.add(name);
              await gates.get(name)?.opened;
              finished.add(name);
            },
          );
          await first.ready;
          const [quick, slow] = (await b.publishBatch(topic, [
            { data: { name: 'quick' } },
            { data: { name: 'slow' } },
          ])) as [PublishReceipt, PublishReceipt];
          await waitFor(() => started.size === 2, { message: 'both handlers should be running' });

          const t0 = Date.now();
          const closing = first.close({ deadlineMs: 1500 });
          // 'quick' finishes within the deadline, so close() must wait for it; 'slow' does not.
          setTimeout(() => gates.get('quick')?.open(), 100);
          await closing;
          assert.ok(
            Date.now() - t0 < 8000,
            'close() returned at its deadline despite a hung handler',
          );
          assert.ok(
            finished.has('quick'),
            'the in-flight handler finished before close() returned',
          );
          assert.ok(!finished.has('slow'));

          const second: { id: string; attempt: number }[] = [];
          const next = b.subscribe(
            topic,
            { group: 'g', startFrom: 'beginning', visibilityTimeoutMs: 300 },
            (e) => {
              second.push({ id: e.id, attempt: e.delivery.attempt });
            },
          );
          await next.ready;
          await waitFor(() => second.some((d) => d.id === slow.id), {
            message: 'the event left pending by the hung handler was not redelivered',
          });
          // Both were pending equally long: had 'quick' not been acknowledged it would be reclaimed with 'slow'.
          assert.ok(
            !second.some((d) => d.id === quick.id),
            'an event acknowledged at close was redelivered',
          );
          assert.ok(
            (second.find((d) => d.id === slow.id)?.attempt ?? 0) >= 2,
            'a redelivery counts as a new attempt',
          );
        } finally {
          for (const g of gates.values()) g.open();
        }
      }),
  );

  test(
    'middleware runs in order: the first listed is the outermost',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.middleware' });
        const trail: string[] = [];
        const layer =
          (name: string) =>
          (next: Handler<unknown>): Handler<unknown> =>
          async (e) => {
            trail.push(`${name}:before`);
            await next(e);
            trail.push(`${name}:after`);
          };
        const sub = b.subscribe(
          topic,
          { group: 'g', middleware: [layer('outer'), layer('inner')] },
          () => {
            trail.push('handler');
          },
        );
        await sub.ready;
        await b.publish(topic, { data: 1 });
        await waitFor(() => trail.length === 5);
        assert.deepEqual(trail, [
          'outer:before',
          'inner:before',
          'handler',
          'inner:after',
          'outer:after',
        ]);
      }),
  );

  test(
    'after close() publishing rejects with ClosedError and subscribing throws it',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      const b = await factory.create();
      const topic: Topic<unknown> = defineTopic({ name: 'conf.closed' });
      await b.publish(topic, { data: 'before' });
      await b.close();
      await assertRejectsWithCode('publish after close()', ErrorCode.Closed, () =>
        b.publish(topic, { data: 'after' }),
      );
      await assertRejectsWithCode('publishBatch after close()', ErrorCode.Closed, () =>
        b.publishBatch(topic, [{ data: 'after' }]),
      );
      assert.throws(
        () => b.subscribe(topic, { group: 'g' }, () => {}),
        (e: unknown) => (e as { code?: string }).code === ErrorCode.Closed,
      );
      await b.close(); // closing twice is harmless
    },
  );

  test('the backend declares the features the suite was told', { timeout: TEST_TIMEOUT_MS }, () =>
    withBackend(factory, (b) => {
      assert.ok(typeof b.name === 'string' && b.name.length > 0);
      assert.deepEqual({ ...b.features }, { ...factory.features });
      return Promise.resolve();
    }),
  );
}
