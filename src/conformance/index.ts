/** `herald/testing`: run the conformance suite on a backend, and count deliveries in your own tests. */
export { runConformanceSuite } from './suite.ts';
export type { ConformanceFactory } from './suite.ts';
export { DeliveryChecker, assertNoLoss, describeReport } from './checker.ts';
export type { DeliveryReport, NoLossOptions } from './checker.ts';
