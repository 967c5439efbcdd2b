/** Conformance: failing handlers are retried with backoff, then dead-lettered; dead letters replay and purge. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend, DeadLetter, SubscriptionStatus } from '../core/contract.ts';
import { defineTopic } from '../core/topic.ts';
import {
  assertUnsupported,
  paymentSchema,
  recordStatus,
  TEST_TIMEOUT_MS,
  waitFor,
  withBackend,
  type ConformanceFactory,
} from './harness.ts';

const count = (list: readonly string[], value: string) => list.filter((x) => x === value).length;

function deadLetterTests(factory: ConformanceFactory): void {
  test(
    'a poison event is dead-lettered after maxAttempts while later events flow; replay reaches only its group',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.poison' });
        const maxAttempts = 3;
        let healed = false;
        const mainLog: string[] = []; // event ids handled successfully, and `poison:<attempt>` for failures
        const auditLog: string[] = [];
        const main = b.subscribe(
          topic,
          // Concurrency 1: later events can only pass the poison if its retries do not block the subscriber.
          {
            group: 'main',
            startFrom: 'beginning',
            concurrency: 1,
            maxAttempts,
            backoff: { initialMs: 200, factor: 2 },
          },
          (e) => {
            if ((e.data as { poison?: boolean }).poison === true && !healed) {
              mainLog.push(`poison:${e.delivery.attempt}`);
              throw new Error('poison pill: cannot handle');
            }
            mainLog.push(e.id);
          },
        );
        const audit = b.subscribe(topic, { group: 'audit', startFrom: 'beginning' }, (e) => {
          auditLog.push(e.id);
        });
        await Promise.all([main.ready, audit.ready]);

        const poison = await b.publish(topic, { id: 'poison-1', data: { poison: true } });
        const later = await b.publishBatch(
          topic,
          Array.from({ length: 10 }, (_, i) => ({ data: { n: i } })),
        );
        let letters: DeadLetter[] = [];
        await waitFor(async () => (letters = await b.deadLetters.list(topic)).length === 1, {
          message: 'the poison event was not dead-lettered',
        });
        const letter = letters[0] as DeadLetter;
        assert.equal(letter.reason, 'handler-failed');
        assert.equal(letter.attempts, maxAttempts);
        assert.match(letter.error, /poison pill: cannot handle/);
        assert.equal(letter.eventId, 'poison-1');
        assert.equal(letter.group, 'main');
        assert.equal(letter.topic, topic.name);
        assert.equal(letter.partition, poison.partition);
        assert.equal(letter.originalPosition, poison.position);
        assert.deepEqual(
          mainLog.filter((x) => x.startsWith('poison:')),
          ['poison:1', 'poison:2', 'poison:3'],
          'the handler ran exactly maxAttempts times for the poison event',
        );
        const deadLetteredAt = mainLog.indexOf(`poison:${maxAttempts}`);
        for (const r of later) {
          const at = mainLog.indexOf(r.id);
          assert.ok(
            at >= 0 && at < deadLetteredAt,
            `later event ${r.id} waited for the poison event: ${mainLog.join(' ')}`,
          );
        }
        assert.deepEqual(await b.deadLetters.list(topic, { group: 'audit' }), []);
        assert.equal((await b.deadLetters.list(topic, { reason: 'undecodable' })).length, 0);
        await waitFor(() => auditLog.length === 11);

        healed = true;
        const progress: number[] = [];
        assert.equal(
          await b.deadLetters.replay(topic, { onProgress: (done) => progress.push(done) }),
          1,
        );
        assert.deepEqual(progress, [1]);
        assert.deepEqual(await b.deadLetters.list(topic), []);
        const marker = await b.publish(topic, { data: { marker: true } });
        await waitFor(
          () =>
            mainLog.includes(marker.id) &&
            auditLog.includes(marker.id) &&
            mainLog.includes('poison-1'),
        );
        assert.equal(
          count(mainLog, 'poison-1'),
          1,
          'the replayed event was handled once by its group',
        );
        assert.equal(
          count(auditLog, 'poison-1'),
          1,
          'a group that handled the original does not get the replay',
        );
        assert.equal(count(mainLog, 'poison:4'), 0);
      }),
  );

  test('purge removes dead letters, honouring the filter', { timeout: TEST_TIMEOUT_MS }, () =>
    withBackend(factory, async (b) => {
      const topic = defineTopic({ name: 'conf.purge' });
      const sub = b.subscribe(
        topic,
        { group: 'main', startFrom: 'beginning', maxAttempts: 1 },
        () => {
          throw new Error('always fails');
        },
      );
      await sub.ready;
      await b.publishBatch(topic, [{ data: 1 }, { data: 2 }]);
      await waitFor(async () => (await b.deadLetters.list(topic)).length === 2);
      assert.equal((await b.deadLetters.list(topic, { limit: 1 })).length, 1);
      assert.equal(await b.deadLetters.purge(topic, { group: 'someone-else' }), 0);
      assert.equal((await b.deadLetters.list(topic)).length, 2);
      assert.equal(await b.deadLetters.purge(topic, { group: 'main' }), 2);
      assert.deepEqual(await b.deadLetters.list(topic), []);
    }),
  );

  test(
    'an event that fails the schema at consume is dead-lettered as undecodable, unhandled',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        // Same topic, declared without a schema by an old producer and with one by the consumer.
        const loose = defineTopic({ name: 'conf.undecodable' });
        const strict = defineTopic({ name: 'conf.undecodable', schema: paymentSchema });
        const handled: unknown[] = [];
        const sub = b.subscribe(strict, { group: 'g', startFrom: 'beginning' }, (e) => {
          handled.push(e.data);
        });
        await sub.ready;
        await b.publish(loose, { data: { amount: 'lots' } });
        await b.publish(loose, { data: { amount: 5, currency: 'EUR' } });
        await waitFor(
          async () => (await b.deadLetters.list(strict)).length === 1 && handled.length === 1,
        );
        const [letter] = await b.deadLetters.list(strict);
        assert.equal(letter?.reason, 'undecodable');
        assert.match(letter?.error ?? '', /amount/);
        assert.deepEqual(handled, [{ amount: 5, currency: 'EUR' }]);
      }),
  );
}

export function failureTests(factory: ConformanceFactory): void {
  test(
    'a handler failing twice: each event succeeds once, on attempts 1, 2, 3',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.retry' });
        const attempts = new Map<string, number[]>();
        const successes = new Map<string, number>();
        const sub = b.subscribe(
          topic,
          {
            group: 'g',
            startFrom: 'beginning',
            maxAttempts: 5,
            backoff: { initialMs: 10, maxMs: 50 },
          },
          (e) => {
            attempts.set(e.id, [...(attempts.get(e.id) ?? []), e.delivery.attempt]);
            if (e.delivery.attempt <= 2)
              throw new Error(`failure on attempt ${e.delivery.attempt}`);
            successes.set(e.id, (successes.get(e.id) ?? 0) + 1);
          },
        );
        await sub.ready;
        const receipts = await b.publishBatch(
          topic,
          Array.from({ length: 20 }, (_, i) => ({ data: { n: i } })),
        );
        await waitFor(() => successes.size === 20, {
          message: `${successes.size} of 20 events succeeded`,
        });
        await sub.close();
        for (const r of receipts) {
          assert.deepEqual(attempts.get(r.id), [1, 2, 3], `attempts seen for ${r.id}`);
          assert.equal(successes.get(r.id), 1, `successes of ${r.id}`);
        }
      }),
  );

  if (factory.features.deadLetters) {
    deadLetterTests(factory);
  } else {
    test(
      'dead letters are declared unsupported: list, replay and purge throw UnsupportedError',
      { timeout: TEST_TIMEOUT_MS },
      () =>
        withBackend(factory, async (b) => {
          const topic = defineTopic({ name: 'conf.no-dlq' });
          await assertUnsupported('deadLetters.list', () => b.deadLetters.list(topic));
          await assertUnsupported('deadLetters.replay', () => b.deadLetters.replay(topic));
          await assertUnsupported('deadLetters.purge', () => b.deadLetters.purge(topic));
        }),
    );
  }

  test(
    'status() reports ready, retries, dead-lettering and closed',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b: Backend) => {
        const topic = defineTopic({ name: 'conf.status' });
        const sub = b.subscribe(
          topic,
          { group: 'g', maxAttempts: 2, backoff: { initialMs: 5 } },
          () => {
            throw new Error('status poison');
          },
        );
        const { seen, ended } = recordStatus(sub);
        await sub.ready;
        await waitFor(() => seen.some((s) => s.type === 'ready'));
        const r = await b.publish(topic, { data: 'poison' });
        const expected = factory.features.deadLetters ? 'dead-lettered' : 'retry';
        await waitFor(() => seen.some((s) => s.type === expected), {
          message: `no '${expected}' status`,
        });
        const retry = seen.find((s) => s.type === 'retry') as Extract<
          SubscriptionStatus,
          { type: 'retry' }
        >;
        assert.ok(retry, 'a retry status precedes dead-lettering');
        assert.equal(retry.attempt, 1);
        assert.match(retry.error.message, /status poison/);
        if (factory.features.deadLetters) {
          const dl = seen.find((s) => s.type === 'dead-lettered') as Extract<
            SubscriptionStatus,
            { type: 'dead-lettered' }
          >;
          assert.match(dl.reason, /^handler-failed/);
          assert.equal(dl.position, r.position, 'dead-lettered status names the event');
        }
        await sub.close();
        await ended;
        assert.equal(seen[0]?.type, 'ready');
        assert.equal(seen.at(-1)?.type, 'closed');
      }),
  );
}
