/**
 * The storefront: a web page to place orders (one, or a burst of random ones)
 * and watch the saga work: each order's timeline as it happens, the users'
 * balances, and how many events each service processed.
 *
 * Orders go to the Order service's HTTP API, like any client's would. The
 * dashboard figures (balances, counters) are read straight from the services'
 * keys, read-only: a demo's window into the services, not something a service
 * would do to another.
 *
 *   GET  /                 the page (public/index.html; no build step)
 *   GET  /api/overview     latest orders with timelines, balances, counters
 *   POST /api/orders       {user, product, amount, country} -> {orderId}
 *   POST /api/burst        {count} -> {orderIds}: random orders
 *
 *   REDIS_URL=… ORDER_URL=http://127.0.0.1:3001 node --import tsx examples/storefront/server.ts [--port 3000]
 */
import { readFile } from 'node:fs/promises';
import Fastify from 'fastify';
import { connectRedis, toRecord, type RedisConnection } from '../../src/index.ts';
import { monitorKeys } from '../saga/failure-monitor.ts';
import { fulfillmentKeys } from '../saga/fulfillment.ts';
import { orderKeys } from '../saga/order.ts';
import { paymentKeys } from '../saga/payment.ts';
import { configFromEnv, isMain, runAsMain, type RunningService } from '../saga/runtime.ts';

export interface StorefrontOptions {
  readonly redisUrl: string;
  /** The services' key prefix (DEMO_PREFIX). */
  readonly keyPrefix: string;
  /** Base URL of the Order service's HTTP API. */
  readonly orderUrl: string;
  readonly port?: number;
  readonly host?: string;
}

export interface Storefront extends RunningService {
  readonly url: string;
}

const PRODUCTS = ['haggis', 'shortbread', 'whisky', 'tartan', 'bagpipes'];
const COUNTRIES = ['GB', 'US', 'FR', 'DE', 'JP'];

const numbers = (row: unknown): Record<string, number> =>
  Object.fromEntries(Object.entries(toRecord(row)).map(([k, v]) => [k, Number(v)]));

async function overview(conn: RedisConnection, keyPrefix: string, orderUrl: string) {
  const pay = paymentKeys(keyPrefix);
  const ful = fulfillmentKeys(keyPrefix);
  const mon = monitorKeys(keyPrefix);
  const [balances, captured, reservations, payStats, fulStats, monStats, orderStats, stock] =
    await conn.pipeline([
      ['HGETALL', pay.balances],
      ['GET', pay.captured],
      ['HLEN', pay.reservations],
      ['HGETALL', pay.stats],
      ['HGETALL', ful.stats],
      ['HGETALL', mon.stats],
      ['HGETALL', orderKeys(keyPrefix).stats],
      ['HGETALL', ful.stock],
    ]);
  const [orders, states] = await Promise.all([
    fetch(`${orderUrl}/orders?limit=25`).then((r) => r.json() as Promise<{ orders: unknown[] }>),
    fetch(`${orderUrl}/stats`).then((r) => r.json() as Promise<{ states: Record<string, number> }>),
  ]);
  const processed = (row: unknown) => numbers(row).processed ?? 0;
  return {
    orders: orders.orders,
    states: states.states,
    balances: numbers(balances),
    captured: Number(captured ?? 0),
    reservations: Number(reservations),
    stock: numbers(stock),
    processed: {
      order: processed(orderStats),
      payment: processed(payStats),
      fulfillment: processed(fulStats),
      'failure-monitor': processed(monStats),
    },
    duplicates: {
      order: numbers(orderStats).duplicates ?? 0,
      payment: numbers(payStats).duplicates ?? 0,
      fulfillment: numbers(fulStats).duplicates ?? 0,
      'failure-monitor': numbers(monStats).duplicates ?? 0,
    },
  };
}

async function postOrder(
  orderUrl: string,
  body: unknown,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${orderUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

export async function startStorefront(options: StorefrontOptions): Promise<Storefront> {
  const conn = await connectRedis({ url: options.redisUrl });
  const page = new URL('./public/index.html', import.meta.url);
  const app = Fastify({ logger: false });

  app.get('/', async (_req, reply) =>
    reply.type('text/html; charset=utf-8').send(await readFile(page)),
  );
  app.get('/api/overview', () => overview(conn, options.keyPrefix, options.orderUrl));
  app.post('/api/orders', async (req, reply) => {
    const { status, body } = await postOrder(options.orderUrl, req.body);
    return reply.code(status).send(body);
  });
  app.post<{ Body: { count?: number } }>('/api/burst', async (req) => {
    const count = Math.min(Math.max(Math.floor(Number(req.body?.count ?? 20)), 1), 1000);
    const users = Object.keys(
      toRecord(await conn.send(['HGETALL', paymentKeys(options.keyPrefix).balances])),
    );
    const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)] as T;
    const orderIds: string[] = [];
    // Ten at a time: a burst, not a flood of sockets.
    for (let i = 0; i < count; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, count - i) }, () =>
          postOrder(options.orderUrl, {
            user: pick(users.length > 0 ? users : ['alice']),
            product: pick(PRODUCTS),
            amount: 5 + Math.floor(Math.random() * 120),
            country: pick(COUNTRIES),
          }),
        ),
      );
      for (const r of batch)
        if (r.status === 201) orderIds.push((r.body as { orderId: string }).orderId);
    }
    return { orderIds };
  });

  const url = await app.listen({ port: options.port ?? 3000, host: options.host ?? '127.0.0.1' });
  return {
    name: 'storefront',
    url,
    async close() {
      await app.close();
      await conn.close();
    },
  };
}

if (isMain(import.meta.url)) {
  runAsMain('storefront', async () => {
    const config = configFromEnv();
    const portArg = process.argv.indexOf('--port');
    const storefront = await startStorefront({
      redisUrl: config.redisUrl,
      keyPrefix: config.keyPrefix,
      orderUrl: process.env.ORDER_URL ?? 'http://127.0.0.1:3001',
      port: Number(portArg > 0 ? process.argv[portArg + 1] : (process.env.PORT ?? 3000)),
    });
    console.log(`storefront: open ${storefront.url}`);
    return storefront;
  });
}
