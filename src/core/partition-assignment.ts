/**
 * Which partitions of an ordered group each live instance should own. Every instance computes
 * the same map from the same member list (sorted by name), so no coordinator is needed:
 * partition i goes to the (i mod n)-th member. 12 partitions over 3 instances: 4 each; over 5:
 * 3, 3, 2, 2, 2. Ownership itself is taken with a lease (the map only says what to aim for).
 */
export function assignedPartitions(
  members: readonly string[],
  self: string,
  partitions: number,
): Set<number> {
  const sorted = [...new Set(members)].sort();
  const index = sorted.indexOf(self);
  const out = new Set<number>();
  if (index < 0) return out;
  for (let p = index; p < partitions; p += sorted.length) out.add(p);
  return out;
}

/** The ownership lease of a rebalance bound: a dead instance's lease runs out, then the next renewal tick takes over. */
export function ownershipTiming(rebalanceWithinMs: number): { leaseMs: number; tickMs: number } {
  const leaseMs = Math.floor(rebalanceWithinMs * LEASE_SHARE_OF_BOUND);
  return { leaseMs, tickMs: Math.floor(leaseMs / RENEWALS_PER_LEASE) };
}

/**
 * The lease is 70 % of the bound and renewed 4 times per lease: a dead owner's partitions are
 * free at most one lease after its last renewal and taken at the next tick of a survivor,
 * 0.7 + 0.175 = 0.875 of the bound, leaving the rest for the round trips and a loaded machine.
 */
const LEASE_SHARE_OF_BOUND = 0.7;
const RENEWALS_PER_LEASE = 4;
