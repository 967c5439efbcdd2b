import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignedPartitions, ownershipTiming } from './partition-assignment.ts';
import { SUBSCRIBE_DEFAULTS } from './subscribe-options.ts';

test('every member computes the same map: each partition exactly once, shares within one', () => {
  for (const [members, partitions, shares] of [
    [['c', 'a', 'b'], 12, [4, 4, 4]],
    [['e', 'd', 'c', 'b', 'a'], 12, [3, 3, 2, 2, 2]],
    [['a', 'b'], 1, [1, 0]],
  ] as const) {
    const maps = [...members].sort().map((m) => assignedPartitions(members, m, partitions));
    assert.deepEqual(
      maps.map((m) => m.size),
      shares,
    );
    const all = maps.flatMap((m) => [...m]).sort((x, y) => x - y);
    assert.deepEqual(
      all,
      Array.from({ length: partitions }, (_, i) => i),
    );
  }
  // A name given twice counts once; a non-member owns nothing.
  assert.equal(assignedPartitions(['a', 'a', 'b'], 'a', 12).size, 6);
  assert.equal(assignedPartitions(['a', 'b'], 'z', 12).size, 0);
});

test('a dead owner lease runs out and a survivor ticks within the bound', () => {
  for (const bound of [SUBSCRIBE_DEFAULTS.rebalanceWithinMs, 6000, 1000]) {
    const { leaseMs, tickMs } = ownershipTiming(bound);
    assert.ok(leaseMs + tickMs < bound, `bound ${bound}: lease ${leaseMs} + tick ${tickMs}`);
    assert.ok(tickMs * 3 < leaseMs, 'several renewals per lease');
  }
  assert.deepEqual(ownershipTiming(15_000), { leaseMs: 10_500, tickMs: 2625 });
});
