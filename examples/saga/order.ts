/**
 * Order: takes orders and follows each through the saga, keeping its
 * timeline (every state with its time). It announces each state on `orders`
 * and moves on when Payment and Fulfillment announce theirs:
 *
 *   PAID                             AWAITING_PAYMENT  -> AWAITING_SHIPMENT
 *   FAILED_PAYMENT_NO_FUNDS          AWAITING_PAYMENT  -> BLOCKED_NO_FUNDS
 *   SHIPPED                          AWAITING_SHIPMENT -> COMPLETED_SUCCESSFULLY
 *   SHIPMENT_FAILED_BANNED_PRODUCT   AWAITING_SHIPMENT -> AWAITING_REFUND
 *   SHIPMENT_FAILED_OUT_OF_STOCK     AWAITING_SHIPMENT -> AWAITING_REFUND
 *   REFUNDED                         AWAITING_REFUND   -> COMPLETED_WITH_FAILURE
 *
 * Beside the events, a synchronous HTTP API (ORDER_PORT, default 3001):
 *   POST /orders {user, product, amount, country}  -> 201 {orderId, state}
 *   GET  /orders/:id                               -> the order, its state and timeline
 *   GET  /orders?limit=20                          -> the latest orders
 *   GET  /stats                                    -> orders per state, events processed
 *
 * Private keys: <prefix>:order:by-id:<id> (hash) and :by-id:<id>:timeline,
 * :index, :states, :seq, :stats, :processed:<event id>, :outbox.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 ORDER_PORT=3001 node --import tsx examples/saga/order.ts
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { toRecord, runScript, type Delivery, type RedisConnection } from '../../src/index.ts';
import {
  fulfillmentTopic,
  orderSchema,
  ordersTopic,
  OrderState,
  paymentsTopic,
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

const createScript = sagaScript('order-create');
const transitionScript = sagaScript('order-transition');

export interface TimelineEntry {
  readonly state: string;
  /** ISO time. */
  readonly at: string;
  /** The service that caused it. */
  readonly by: string;
}

export interface OrderView extends Order {
  readonly state: OrderState;
  readonly timeline: TimelineEntry[];
}

export interface OrderService extends RunningService {
  /** Base URL of the HTTP API. */
  readonly url: string;
}

export function orderKeys(keyPrefix: string) {
  const k = (s: string) => `${keyPrefix}:order:${s}`;
  return {
    order: (id: string) => k(`by-id:${id}`),
    timeline: (id: string) => k(`by-id:${id}:timeline`),
    index: k('index'),
    states: k('states'),
    seq: k('seq'),
    stats: k('stats'),
  };
}

/** What each announcement from another service does to an order. */
const TRANSITIONS: Readonly<
  Record<string, { readonly from: OrderState; readonly to: OrderState }>
> = {
  [OrderState.PAID]: { from: OrderState.AWAITING_PAYMENT, to: OrderState.AWAITING_SHIPMENT },
  [OrderState.FAILED_PAYMENT_NO_FUNDS]: {
    from: OrderState.AWAITING_PAYMENT,
    to: OrderState.BLOCKED_NO_FUNDS,
  },
  [OrderState.SHIPPED]: {
    from: OrderState.AWAITING_SHIPMENT,
    to: OrderState.COMPLETED_SUCCESSFULLY,
  },
  [OrderState.SHIPMENT_FAILED_BANNED_PRODUCT]: {
    from: OrderState.AWAITING_SHIPMENT,
    to: OrderState.AWAITING_REFUND,
  },
  [OrderState.SHIPMENT_FAILED_OUT_OF_STOCK]: {
    from: OrderState.AWAITING_SHIPMENT,
    to: OrderState.AWAITING_REFUND,
  },
  [OrderState.REFUNDED]: {
    from: OrderState.AWAITING_REFUND,
    to: OrderState.COMPLETED_WITH_FAILURE,
  },
};

const entry = (state: string, at: string, by: string) =>
  JSON.stringify({ state, at, by } satisfies TimelineEntry);

/** Reads one order with its timeline; undefined when there is none. */
export async function readOrder(
  conn: RedisConnection,
  keyPrefix: string,
  id: string,
): Promise<OrderView | undefined> {
  const keys = orderKeys(keyPrefix);
  const [hash, timeline] = await conn.pipeline([
    ['HGETALL', keys.order(id)],
    ['LRANGE', keys.timeline(id), '0', '-1'],
  ]);
  if (hash instanceof Error) throw hash;
  if (timeline instanceof Error) throw timeline;
  const fields = toRecord(hash);
  if (fields.order === undefined) return undefined;
  return {
    ...(JSON.parse(fields.order) as Order),
    state: fields.state as OrderState,
    timeline: (timeline as string[]).map((t) => JSON.parse(t) as TimelineEntry),
  };
}

const placeSchema = orderSchema.omit({ orderId: true });

function buildApi(kit: ServiceKit, conn: RedisConnection, keyPrefix: string): FastifyInstance {
  const keys = orderKeys(keyPrefix);
  const app = Fastify({ logger: false });

  app.post('/orders', async (req, reply) => {
    const parsed = placeSchema.safeParse(req.body);
    if (!parsed.success) {
      return reply.code(400).send({ error: 'invalid order', issues: parsed.error.issues });
    }
    const seq = Number(await conn.send(['INCR', keys.seq]));
    const orderId = `ord-${seq}`;
    const order: Order = { orderId, ...parsed.data, country: parsed.data.country.toUpperCase() };
    const now = Date.now();
    const [staged, json] = kit.announcement(OrderState.AWAITING_PAYMENT, order);
    await runScript(
      conn,
      createScript,
      [keys.order(orderId), keys.timeline(orderId), kit.key('outbox'), keys.index, keys.states],
      [
        orderId,
        JSON.stringify(order),
        String(now),
        entry(OrderState.AWAITING_PAYMENT, new Date(now).toISOString(), 'order'),
        staged,
        json,
        String(seq),
      ],
    );
    await kit.outbox.flush([staged]).catch(() => {});
    return reply.code(201).send({ orderId, state: OrderState.AWAITING_PAYMENT });
  });

  app.get<{ Params: { id: string } }>('/orders/:id', async (req, reply) => {
    const view = await readOrder(conn, keyPrefix, req.params.id);
    if (!view) return reply.code(404).send({ error: `no order '${req.params.id}'` });
    return view;
  });

  app.get<{ Querystring: { limit?: string } }>('/orders', async (req) => {
    const limit = Math.min(Math.max(Number(req.query.limit ?? 20) || 20, 1), 200);
    const ids = await conn.send<string[]>([
      'ZRANGE',
      keys.index,
      '+inf',
      '-inf',
      'BYSCORE',
      'REV',
      'LIMIT',
      '0',
      String(limit),
    ]);
    const views = await Promise.all(ids.map((id) => readOrder(conn, keyPrefix, id)));
    return { orders: views.filter((v) => v !== undefined) };
  });

  app.get('/stats', async () => {
    const [states, stats] = await conn.pipeline([
      ['HGETALL', keys.states],
      ['HGETALL', keys.stats],
    ]);
    const numbers = (row: unknown) =>
      Object.fromEntries(Object.entries(toRecord(row)).map(([k, v]) => [k, Number(v)]));
    return { states: numbers(states), stats: numbers(stats) };
  });

  app.get('/health', () => ({ ok: true }));
  return app;
}

export async function startOrderService(
  config: ServiceConfig,
  http: { port?: number; host?: string } = {},
): Promise<OrderService> {
  const kit = await ServiceKit.start('order', config, ordersTopic);
  const conn = kit.backend.conn;
  const keys = orderKeys(config.keyPrefix);
  const ttl = String(kit.guard.ttlMs);

  const move = (e: Delivery<Order>) => {
    const t = TRANSITIONS[e.type];
    if (!t) return Promise.resolve('ignored');
    const id = e.data.orderId;
    const now = Date.now();
    return kit.apply(
      transitionScript,
      [
        kit.guard.recordKey(e),
        keys.order(id),
        keys.timeline(id),
        kit.key('outbox'),
        keys.stats,
        keys.states,
      ],
      [
        ttl,
        t.from,
        t.to,
        String(now),
        ...kit.announcement(t.to, e.data),
        entry(e.type, e.time, e.source),
        entry(t.to, new Date(now).toISOString(), 'order'),
      ],
    );
  };
  const handlersFor = (types: string[]) => Object.fromEntries(types.map((type) => [type, move]));
  kit.subscribe(
    paymentsTopic,
    handlersFor([OrderState.PAID, OrderState.FAILED_PAYMENT_NO_FUNDS, OrderState.REFUNDED]),
  );
  kit.subscribe(
    fulfillmentTopic,
    handlersFor([
      OrderState.SHIPPED,
      OrderState.SHIPMENT_FAILED_BANNED_PRODUCT,
      OrderState.SHIPMENT_FAILED_OUT_OF_STOCK,
    ]),
  );
  await kit.ready();

  const app = buildApi(kit, conn, config.keyPrefix);
  const address = await app.listen({ port: http.port ?? 3001, host: http.host ?? '127.0.0.1' });
  return {
    name: 'order',
    url: address,
    async close() {
      await app.close();
      await kit.close();
    },
  };
}

if (isMain(import.meta.url)) {
  runAsMain('order', async () => {
    const service = await startOrderService(configFromEnv(), {
      port: Number(process.env.ORDER_PORT ?? 3001),
      host: process.env.ORDER_HOST ?? '127.0.0.1',
    });
    console.log(`order: HTTP API on ${service.url}`);
    return service;
  });
}
