import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertNoLoss, DeliveryChecker } from './checker.ts';

describe('DeliveryChecker', () => {
  test('a clean run reports nothing lost, unexpected or duplicated', () => {
    const c = new DeliveryChecker();
    for (const id of ['a', 'b', 'c']) c.published(id);
    c.handled('b');
    c.handled({ id: 'a' });
    c.handled('c');
    const r = c.report();
    assert.deepEqual(r, {
      published: 3,
      delivered: 3,
      lost: 0,
      unexpected: 0,
      duplicates: 0,
      lostIds: [],
      unexpectedIds: [],
    });
    assert.equal(c.allDelivered(), true);
    assertNoLoss(r, { allowDuplicates: false });
  });

  test('counts lost, unexpected and duplicate deliveries', () => {
    const c = new DeliveryChecker();
    c.published({ id: 'a' });
    c.published('b');
    c.published('c');
    c.published('a'); // a retried publish of the same id is one event
    c.handled('a');
    c.handled('a');
    c.handled('a');
    c.handled('x');
    const r = c.report();
    assert.equal(r.published, 3);
    assert.equal(r.delivered, 4);
    assert.equal(r.lost, 2);
    assert.deepEqual(r.lostIds, ['b', 'c']);
    assert.equal(r.unexpected, 1);
    assert.deepEqual(r.unexpectedIds, ['x']);
    assert.equal(r.duplicates, 2);
    assert.equal(c.allDelivered(), false);
  });

  test('lists at most 20 lost ids but counts them all', () => {
    const c = new DeliveryChecker();
    for (let i = 0; i < 50; i++) c.published(`e${i}`);
    const r = c.report();
    assert.equal(r.lost, 50);
    assert.equal(r.lostIds.length, 20);
    assert.equal(r.lostIds[0], 'e0');
  });

  test('assertNoLoss names the problem and the lost ids', () => {
    const c = new DeliveryChecker();
    c.published('kept');
    c.handled('kept');
    c.handled('kept');
    assertNoLoss(c.report(), { allowDuplicates: true });
    assert.throws(
      () => assertNoLoss(c.report(), { allowDuplicates: false }),
      /1 duplicated.*duplicates 1/,
    );
    c.published('missing');
    assert.throws(
      () => assertNoLoss(c.report()),
      (e: Error) => {
        assert.match(e.message, /1 lost/);
        assert.match(e.message, /first lost ids: missing/);
        return true;
      },
    );
  });

  test('assertNoLoss fails on unexpected deliveries even when nothing was lost', () => {
    const c = new DeliveryChecker();
    c.published('a');
    c.handled('a');
    c.handled('stranger');
    assert.throws(() => assertNoLoss(c.report()), /1 unexpected.*unexpected ids: stranger/);
  });
});
