/**
 * Failure Monitor: records every failed order, as it fails (a declined
 * payment, a refused shipment) and how it ended (BLOCKED_NO_FUNDS or
 * COMPLETED_WITH_FAILURE). It only listens; it publishes nothing.
 *
 * Private keys: <prefix>:monitor:failures (order id -> JSON {order, reason,
 * failedAt, outcome?}), :stats (processed, and a count per reason),
 * :processed:<event id>.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/saga/failure-monitor.ts
 */
import type { Delivery } from '../../src/index.ts';
import { fulfillmentTopic, ordersTopic, OrderState, paymentsTopic, type Order } from './events.ts';
import { ServiceKit } from './kit.ts';
import {
  configFromEnv,
  isMain,
  runAsMain,
  type RunningService,
  type ServiceConfig,
} from './runtime.ts';

export function monitorKeys(keyPrefix: string) {
  const k = (s: string) => `${keyPrefix}:monitor:${s}`;
  return { failures: k('failures'), outcomes: k('outcomes'), stats: k('stats') };
}

export async function startFailureMonitor(config: ServiceConfig): Promise<RunningService> {
  const kit = await ServiceKit.start('monitor', config);
  const keys = monitorKeys(config.keyPrefix);

  // Plain Redis effects: guard.commit applies them and the event's record in one step.
  const failed = (e: Delivery<Order>) =>
    kit.guard.commit(e, [
      [
        'HSET',
        keys.failures,
        e.data.orderId,
        JSON.stringify({ order: e.data, reason: e.type, failedAt: e.time }),
      ],
      ['HINCRBY', keys.stats, e.type, '1'],
      ['HINCRBY', keys.stats, 'processed', '1'],
    ]);
  const ended = (e: Delivery<Order>) =>
    kit.guard.commit(e, [
      ['HSET', keys.outcomes, e.data.orderId, e.type],
      ['HINCRBY', keys.stats, e.type, '1'],
      ['HINCRBY', keys.stats, 'processed', '1'],
    ]);

  kit.subscribe(paymentsTopic, { [OrderState.FAILED_PAYMENT_NO_FUNDS]: failed });
  kit.subscribe(fulfillmentTopic, {
    [OrderState.SHIPMENT_FAILED_BANNED_PRODUCT]: failed,
    [OrderState.SHIPMENT_FAILED_OUT_OF_STOCK]: failed,
  });
  kit.subscribe(ordersTopic, {
    [OrderState.BLOCKED_NO_FUNDS]: ended,
    [OrderState.COMPLETED_WITH_FAILURE]: ended,
  });
  await kit.ready();
  return { name: 'monitor', close: () => kit.close() };
}

if (isMain(import.meta.url))
  runAsMain('failure-monitor', () => startFailureMonitor(configFromEnv()));
