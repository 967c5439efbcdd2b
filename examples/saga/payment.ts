/**
 * Payment: holds the users' balances. Reserves an order's amount when the
 * order awaits payment (PAID, or FAILED_PAYMENT_NO_FUNDS), turns the
 * reservation into a deduction once the order shipped (PAYMENT_CAPTURED), and
 * releases it when the order awaits a refund (REFUNDED).
 *
 * Private keys: <prefix>:payment:balances (user -> available), :reservations
 * (order -> '<amount>:<user>'), :captured (total deducted), :ledger, :stats,
 * :processed:<event id>, :outbox. Publishes only to `payments`.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/saga/payment.ts
 */
import type { Delivery, RedisConnection } from '../../src/index.ts';
import {
  fulfillmentTopic,
  ordersTopic,
  paymentsTopic,
  OrderState,
  PAYMENT_CAPTURED,
  type Order,
} from './events.ts';
import { sagaScript, ServiceKit } from './kit.ts';
import {
  configFromEnv,
  isMain,
  runAsMain,
  type RunningService,
  type ServiceConfig,
} from './runtime.ts';

const reserveScript = sagaScript('payment-reserve');
const settleScript = sagaScript('payment-settle');

/** Balances every user starts with when the demo seeds them. */
export const DEFAULT_BALANCES: Readonly<Record<string, number>> = {
  alice: 500,
  bob: 300,
  carol: 150,
  dave: 60,
  erin: 1000,
};

/** Payment's private keys, for the seed, the storefront's read-only view and the tests. */
export function paymentKeys(keyPrefix: string) {
  const k = (s: string) => `${keyPrefix}:payment:${s}`;
  return {
    balances: k('balances'),
    reservations: k('reservations'),
    captured: k('captured'),
    ledger: k('ledger'),
    stats: k('stats'),
  };
}

/** Gives the users their starting balances, unless Payment has balances already. */
export async function seedBalances(
  conn: RedisConnection,
  keyPrefix: string,
  balances: Readonly<Record<string, number>> = DEFAULT_BALANCES,
): Promise<void> {
  const { balances: key } = paymentKeys(keyPrefix);
  if (Number(await conn.send(['EXISTS', key])) === 1) return;
  await conn.send(['HSET', key, ...Object.entries(balances).flatMap(([u, n]) => [u, String(n)])]);
}

export async function startPaymentService(config: ServiceConfig): Promise<RunningService> {
  const kit = await ServiceKit.start('payment', config, paymentsTopic);
  const keys = paymentKeys(config.keyPrefix);
  await seedBalances(kit.backend.conn, config.keyPrefix);
  const ttl = String(kit.guard.ttlMs);

  const settle = (mode: 'capture' | 'release', type: string) => (e: Delivery<Order>) =>
    kit.apply(
      settleScript,
      [
        kit.guard.recordKey(e),
        keys.balances,
        keys.reservations,
        keys.captured,
        kit.key('outbox'),
        keys.stats,
        keys.ledger,
      ],
      [ttl, mode, e.data.orderId, ...kit.announcement(type, e.data)],
    );

  kit.subscribe(ordersTopic, {
    [OrderState.AWAITING_PAYMENT]: (e) =>
      kit.apply(
        reserveScript,
        [
          kit.guard.recordKey(e),
          keys.balances,
          keys.reservations,
          kit.key('outbox'),
          keys.stats,
          keys.ledger,
        ],
        [
          ttl,
          e.data.orderId,
          e.data.user,
          String(e.data.amount),
          ...kit.announcement(OrderState.PAID, e.data),
          ...kit.announcement(OrderState.FAILED_PAYMENT_NO_FUNDS, e.data),
        ],
      ),
    [OrderState.AWAITING_REFUND]: settle('release', OrderState.REFUNDED),
  });
  kit.subscribe(fulfillmentTopic, {
    [OrderState.SHIPPED]: settle('capture', PAYMENT_CAPTURED),
  });
  await kit.ready();
  return { name: 'payment', close: () => kit.close() };
}

if (isMain(import.meta.url)) runAsMain('payment', () => startPaymentService(configFromEnv()));
