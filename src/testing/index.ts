/** `herald/testing`: run the conformance suite on a backend, and count deliveries in your own tests. */
export { runConformanceSuite } from './suite.ts';
export type { ConformanceFactory } from './suite.ts';
export { DeliveryChecker, assertNoLoss, describeReport } from './checker.ts';
export type { DeliveryReport, NoLossOptions } from './checker.ts';
/** Per-key order of ordered subscriptions: out-of-order pairs per key, re-deliveries counted. */
export { OrderingChecker, assertInOrder, describeOrdering } from './ordering-checker.ts';
export type { OrderingReport, OutOfOrder } from './ordering-checker.ts';
/** A TCP proxy that blackholes or cuts connections: test your service against a Redis that goes silent. */
export { startTcpProxy } from './tcp-proxy.ts';
export type { TcpProxy } from './tcp-proxy.ts';
/** Polls a condition until it holds (a test that waits for a state instead of sleeping). */
export { waitFor } from '../test-support/redis.ts';
export type { WaitForOptions } from '../test-support/redis.ts';
