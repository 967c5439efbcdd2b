/**
 * Fulfillment: owns the stock and the shipping rules. When an order awaits
 * shipment it ships it (SHIPPED), or refuses it: a product that may not go to
 * the order's country (haggis to the United States) is
 * SHIPMENT_FAILED_BANNED_PRODUCT, a product out of stock is
 * SHIPMENT_FAILED_OUT_OF_STOCK. Both failures lead Order to a refund.
 *
 * Private keys: <prefix>:fulfillment:stock (product -> units), :banned
 * ('<product>:<country>'), :shipments (order -> '<product>:<country>'),
 * :stats, :processed:<event id>, :outbox. Publishes only to `fulfillment`.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/saga/fulfillment.ts
 */
import type { RedisConnection } from '../../src/index.ts';
import { fulfillmentTopic, ordersTopic, OrderState } from './events.ts';
import { sagaScript, ServiceKit } from './kit.ts';
import {
  configFromEnv,
  isMain,
  runAsMain,
  type RunningService,
  type ServiceConfig,
} from './runtime.ts';

const shipScript = sagaScript('fulfillment-ship');

/** Units in stock when the demo seeds the warehouse. */
export const DEFAULT_STOCK: Readonly<Record<string, number>> = {
  haggis: 1000,
  shortbread: 1000,
  whisky: 1000,
  tartan: 1000,
  bagpipes: 1000,
};

/** '<product>:<country>' pairs that may not be shipped. */
export const DEFAULT_BANNED: readonly string[] = ['haggis:US'];

export function fulfillmentKeys(keyPrefix: string) {
  const k = (s: string) => `${keyPrefix}:fulfillment:${s}`;
  return { stock: k('stock'), banned: k('banned'), shipments: k('shipments'), stats: k('stats') };
}

/** Fills the warehouse and the banned list, unless Fulfillment has stock already. */
export async function seedWarehouse(
  conn: RedisConnection,
  keyPrefix: string,
  stock: Readonly<Record<string, number>> = DEFAULT_STOCK,
  banned: readonly string[] = DEFAULT_BANNED,
): Promise<void> {
  const keys = fulfillmentKeys(keyPrefix);
  if (Number(await conn.send(['EXISTS', keys.stock])) === 1) return;
  await conn.send([
    'HSET',
    keys.stock,
    ...Object.entries(stock).flatMap(([p, n]) => [p, String(n)]),
  ]);
  if (banned.length > 0) await conn.send(['SADD', keys.banned, ...banned]);
}

export async function startFulfillmentService(config: ServiceConfig): Promise<RunningService> {
  const kit = await ServiceKit.start('fulfillment', config, fulfillmentTopic);
  const keys = fulfillmentKeys(config.keyPrefix);
  await seedWarehouse(kit.backend.conn, config.keyPrefix);
  const ttl = String(kit.guard.ttlMs);

  kit.subscribe(ordersTopic, {
    [OrderState.AWAITING_SHIPMENT]: (e) =>
      kit.apply(
        shipScript,
        [
          kit.guard.recordKey(e),
          keys.stock,
          keys.banned,
          keys.shipments,
          kit.key('outbox'),
          keys.stats,
        ],
        [
          ttl,
          e.data.orderId,
          e.data.product,
          e.data.country.toUpperCase(),
          ...kit.announcement(OrderState.SHIPPED, e.data),
          ...kit.announcement(OrderState.SHIPMENT_FAILED_BANNED_PRODUCT, e.data),
          ...kit.announcement(OrderState.SHIPMENT_FAILED_OUT_OF_STOCK, e.data),
        ],
      ),
  });
  await kit.ready();
  return { name: 'fulfillment', close: () => kit.close() };
}

if (isMain(import.meta.url))
  runAsMain('fulfillment', () => startFulfillmentService(configFromEnv()));
