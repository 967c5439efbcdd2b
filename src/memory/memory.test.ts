/** What the conformance suite does not reach: positions, dedupe expiry, declarations, consumer names. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../core/errors.ts';
import { defineTopic } from '../core/topic.ts';
import { waitFor } from '../test-support/redis.ts';
import { comparePositions, PositionClock } from './positions.ts';
import { MemoryBackend } from './index.ts';

describe('memory positions', () => {
  test('increase strictly, within a millisecond and when the clock steps back', () => {
    const clock = new PositionClock();
    const a = clock.next(1000);
    const b = clock.next(1000);
    const c = clock.next(999);
    const d = clock.next(1001);
    assert.deepEqual([a, b, c, d], ['1000-0', '1000-1', '1000-2', '1001-0']);
    assert.ok(
      comparePositions(a, b) < 0 && comparePositions(b, c) < 0 && comparePositions(c, d) < 0,
    );
    assert.ok(comparePositions('9-5', '10-0') < 0, 'compared as numbers, not strings');
    assert.equal(comparePositions('7-3', '7-3'), 0);
  });
});

describe('MemoryBackend', () => {
  test('forgets an event id after the dedupe window', async () => {
    const b = new MemoryBackend();
    try {
      const topic = defineTopic({ name: 'short-window', dedupeWindowMs: 30 });
      const first = await b.publish(topic, { id: 'a', data: 1 });
      assert.equal((await b.publish(topic, { id: 'a', data: 1 })).duplicate, true);
      const later = await waitFor(async () => {
        const r = await b.publish(topic, { id: 'a', data: 1 });
        return r.duplicate ? undefined : r;
      });
      assert.ok(later);
      assert.notEqual(later.position, first.position);
    } finally {
      await b.close();
    }
  });

  test('refuses a topic redeclared with another partition count', async () => {
    const b = new MemoryBackend();
    try {
      await b.publish(defineTopic({ name: 'orders', partitions: 2 }), { key: 'k', data: 1 });
      await assert.rejects(
        b.publish(defineTopic({ name: 'orders', partitions: 3 }), { data: 1 }),
        ConfigError,
      );
      assert.throws(
        () => b.subscribe(defineTopic({ name: 'orders' }), { group: 'g' }, () => {}),
        ConfigError,
      );
    } finally {
      await b.close();
    }
  });

  test('a subscription reusing a consumer name takes back what that consumer left pending', async () => {
    const b = new MemoryBackend();
    const topic = defineTopic({ name: 'resume' });
    let release = (): void => {};
    const hung = new Promise<void>((resolve) => (release = resolve));
    try {
      const first = b.subscribe(
        topic,
        { group: 'g', consumer: 'worker-1', startFrom: 'beginning' },
        () => hung,
      );
      await first.ready;
      const r = await b.publish(topic, { data: 'x' });
      await first.close({ deadlineMs: 10 }); // the handler hangs: the event stays pending for worker-1
      const seen: number[] = [];
      const second = b.subscribe(topic, { group: 'g', consumer: 'worker-1' }, (e) => {
        if (e.id === r.id) seen.push(e.delivery.attempt);
      });
      await second.ready;
      await waitFor(() => seen.length === 1);
      assert.deepEqual(seen, [2]);
    } finally {
      release();
      await b.close();
    }
  });

  test('rejects subscribe options that cannot work', async () => {
    const b = new MemoryBackend();
    try {
      const topic = defineTopic({ name: 'opts' });
      assert.throws(
        () => b.subscribe(topic, { group: 'g', concurrency: 0 }, () => {}),
        /concurrency/,
      );
      assert.throws(() => b.subscribe(topic, { group: '' }, () => {}), ConfigError);
    } finally {
      await b.close();
    }
  });
});
