/**
 * The conformance suite every backend runs (after Watermill's pub/sub tests):
 * each behaviour of the backend contract (src/core/contract.ts) is one
 * node:test test that fails when the backend breaks it. What a backend
 * declares it cannot do is asserted to throw UnsupportedError, never skipped.
 *
 *   runConformanceSuite('redis', { create: () => RedisBackend.connect({ prefix: unique() }), features });
 */
import { describe } from 'node:test';
import type { ConformanceFactory } from './harness.ts';
import { deliveryTests } from './suite-delivery.ts';
import { failureTests } from './suite-failures.ts';
import { groupTests } from './suite-groups.ts';
import { lifecycleTests } from './suite-lifecycle.ts';
import { orderedTests } from './suite-ordered.ts';
import { publishingTests } from './suite-publishing.ts';

export type { ConformanceFactory };

/** Registers the suite's tests under `describe(\`conformance: ${name}\`)`. Every test makes and closes its own backend. */
export function runConformanceSuite(name: string, factory: ConformanceFactory): void {
  describe(`conformance: ${name}`, () => {
    describe('delivery', () => deliveryTests(factory));
    describe('consumer groups', () => groupTests(factory));
    describe('publishing', () => publishingTests(factory));
    describe('failures', () => failureTests(factory));
    describe('lifecycle', () => lifecycleTests(factory));
    describe('ordered subscriptions', () => orderedTests(factory));
  });
}
