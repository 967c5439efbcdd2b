/**
 * Conformance: nothing half-written. Every event of a publish or batch is validated before
 * anything is written; each bad event gets a ValidationError naming its index and field.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Backend } from '../core/contract.ts';
import { ConfigError, ValidationError } from '../core/errors.ts';
import type { OutgoingEvent } from '../core/event.ts';
import {
  DEFAULT_MAX_EVENT_BYTES,
  defineTopic,
  MAX_DEDUPE_WINDOW_MS,
  type Topic,
} from '../core/topic.ts';
import { TEST_TIMEOUT_MS, waitFor, withBackend, type ConformanceFactory } from './harness.ts';

const MARKER = 'marker: published last';

/** The data of every event stored in the topic, read back by a subscriber from the beginning. */
async function storedData(b: Backend, topic: Topic): Promise<unknown[]> {
  await b.publish(topic, { data: MARKER });
  const seen: unknown[] = [];
  const sub = b.subscribe(
    topic,
    { group: 'check', startFrom: 'beginning', concurrency: 1 },
    (e) => {
      seen.push(e.data);
    },
  );
  try {
    await sub.ready;
    await waitFor(() => seen.includes(MARKER), { message: 'the marker event arrives' });
  } finally {
    await sub.close();
  }
  return seen.filter((d) => d !== MARKER);
}

/** Asserts a ValidationError naming `index` and `field` (and `path` in its issues, when given). */
function namesEventAndField(index: number, field: string, path?: string): (e: unknown) => true {
  return (e) => {
    assert.ok(e instanceof ValidationError, `expected a ValidationError, got ${String(e)}`);
    assert.equal(e.index, index, `index in: ${e.message}`);
    assert.equal(e.field, field, `field in: ${e.message}`);
    if (path !== undefined) {
      assert.ok(
        e.issues.some((i) => i.path.includes(path)),
        `issues name '${path}': ${JSON.stringify(e.issues)}`,
      );
    }
    return true;
  };
}

interface BadEvent {
  readonly what: string;
  readonly event: unknown;
  readonly field: string;
  readonly path?: string;
}

function badEvents(): BadEvent[] {
  const circular: Record<string, unknown> = { name: 'loop' };
  circular.self = circular;
  return [
    { what: 'a BigInt', event: { data: { amount: 10n } }, field: 'data', path: 'amount' },
    { what: 'a circular reference', event: { data: { order: circular } }, field: 'data' },
    { what: 'a function', event: { data: { total: 1, compute: () => 1 } }, field: 'data' },
    { what: 'NaN', event: { data: { total: NaN } }, field: 'data', path: 'total' },
    { what: 'Infinity in an array', event: { data: { totals: [1, Infinity] } }, field: 'data' },
    { what: 'a number as type', event: { type: 42, data: {} }, field: 'type' },
    { what: 'a number as key', event: { key: 7, data: {} }, field: 'key' },
    { what: 'an object as id', event: { id: { n: 1 }, data: {} }, field: 'id' },
    {
      what: 'a number as header value',
      event: { headers: { attempt: 2 }, data: {} },
      field: 'headers',
    },
    { what: 'an array as headers', event: { headers: ['a'], data: {} }, field: 'headers' },
  ];
}

export function validationTests(factory: ConformanceFactory): void {
  test(
    'a batch with one bad event writes nothing; the ValidationError names its index and field',
    { timeout: TEST_TIMEOUT_MS },
    () =>
      withBackend(factory, async (b) => {
        const topic = defineTopic({ name: 'conf.validation' });
        for (const bad of badEvents()) {
          // One good event with an id (the dedupe write path) and one without (the plain append).
          const batch = [
            { id: `before-${bad.what}`, data: { ok: 1 } },
            bad.event as OutgoingEvent,
            { data: { ok: 2 } },
          ];
          await assert.rejects(
            b.publishBatch(topic, batch),
            namesEventAndField(1, bad.field, bad.path),
            `batch with ${bad.what}`,
          );
          await assert.rejects(
            b.publish(topic, bad.event as OutgoingEvent),
            namesEventAndField(0, bad.field, bad.path),
            `publish of ${bad.what}`,
          );
        }
        assert.deepEqual(
          await storedData(b, topic),
          [],
          'no event of any refused batch was stored',
        );
      }),
  );

  test(
    'events over maxEventBytes are refused before anything is written; the limit is configurable',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      assert.equal(
        defineTopic({ name: 'conf.size-default' }).maxEventBytes,
        DEFAULT_MAX_EVENT_BYTES,
      );
      assert.equal(DEFAULT_MAX_EVENT_BYTES, 1024 * 1024);
      assert.throws(() => defineTopic({ name: 'conf.size', maxEventBytes: 0 }), ConfigError);
      await withBackend(factory, async (b) => {
        const small = defineTopic({ name: 'conf.size', maxEventBytes: 4096 });
        const fits = { data: 'a'.repeat(3000) };
        // 2100 two-byte characters: under the limit in characters, over it in bytes.
        await assert.rejects(
          b.publishBatch(small, [fits, { data: 'é'.repeat(2100) }]),
          namesEventAndField(1, 'data'),
        );
        await assert.rejects(
          b.publishBatch(small, [fits, fits, { data: 1, headers: { big: 'h'.repeat(5000) } }]),
          namesEventAndField(2, 'headers'),
        );
        const large = defineTopic({ name: 'conf.size-default' });
        await assert.rejects(
          b.publish(large, { data: 'x'.repeat(DEFAULT_MAX_EVENT_BYTES) }),
          namesEventAndField(0, 'data'),
        );
        await b.publish(small, fits);
        assert.deepEqual(await storedData(b, small), [fits.data], 'only the event that fits');
      });
    },
  );

  test(
    'a dedupe window beyond 7 days is refused: ConfigError when declared, ValidationError at publish',
    { timeout: TEST_TIMEOUT_MS },
    async () => {
      assert.throws(
        () => defineTopic({ name: 'conf.window', dedupeWindowMs: MAX_DEDUPE_WINDOW_MS + 1 }),
        ConfigError,
      );
      await withBackend(factory, async (b) => {
        // A topic built by hand (not through defineTopic) is checked at publish.
        const tooLong: Topic = {
          ...defineTopic({ name: 'conf.window' }),
          dedupeWindowMs: MAX_DEDUPE_WINDOW_MS + 1,
        };
        await assert.rejects(
          b.publishBatch(tooLong, [{ data: 1 }, { id: 'e-2', data: 2 }]),
          namesEventAndField(1, 'id'),
        );
        assert.deepEqual(await storedData(b, tooLong), []);
        const longest = defineTopic({
          name: 'conf.window-max',
          dedupeWindowMs: MAX_DEDUPE_WINDOW_MS,
        });
        const first = await b.publish(longest, { id: 'e-1', data: 1 });
        const again = await b.publish(longest, { id: 'e-1', data: 1 });
        assert.equal(first.duplicate, false);
        assert.equal(again.duplicate, true);
      });
    },
  );
}
