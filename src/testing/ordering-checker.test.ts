import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertInOrder, OrderingChecker } from './ordering-checker.ts';

test('in-order handling with re-deliveries passes and counts the re-deliveries', () => {
  const c = new OrderingChecker();
  for (const seq of [0, 1, 2, 2, 3]) c.handled('a', seq);
  // A fenced instance re-handles 3 after the new owner did 3 and 4: a re-delivery, not disorder.
  for (const seq of [0, 1, 2, 3, 4, 3]) c.handled('b', seq);
  const r = c.report();
  assert.equal(r.keys, 2);
  assert.equal(r.handled, 11);
  assert.equal(r.redeliveries, 2);
  assert.equal(r.outOfOrder, 0);
  assertInOrder(r);
});

test('an event handled first after a later one of its key is reported, per key', () => {
  const c = new OrderingChecker();
  for (const seq of [0, 2, 1, 3]) c.handled('a', seq);
  for (const seq of [5, 0]) c.handled('b', seq);
  c.handled('c', 0);
  const r = c.report();
  assert.equal(r.outOfOrder, 2);
  assert.deepEqual(r.samples, [
    { key: 'a', seq: 1, after: 2 },
    { key: 'b', seq: 0, after: 5 },
  ]);
  assert.throws(() => assertInOrder(r), /out of order 2; first: a#1 after #2, b#0 after #5/);
});
