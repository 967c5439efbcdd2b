import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectRedis, type RedisConnection } from '../../src/index.ts';
import { testRedisUrl, waitFor } from '../../src/test-support/redis.ts';
import { OrderState, type Order } from './events.ts';
import { monitorKeys, startFailureMonitor } from './failure-monitor.ts';
import { seedWarehouse, startFulfillmentService } from './fulfillment.ts';
import { readOrder, startOrderService, type OrderService } from './order.ts';
import { seedBalances, startPaymentService } from './payment.ts';
import type { RunningService, ServiceConfig } from './runtime.ts';
import {
  booksOf,
  ledgerProblems,
  placeOrder,
  placeOrders,
  statesOf,
  terminalCount,
  testConfig,
  until,
} from './test-support.ts';

async function startAll(
  config: ServiceConfig,
): Promise<{ order: OrderService; all: RunningService[] }> {
  const order = await startOrderService(config, { port: 0 });
  const others = await Promise.all([
    startPaymentService(config),
    startFulfillmentService(config),
    startFailureMonitor(config),
  ]);
  return { order, all: [order, ...others] };
}

describe('order saga: the three paths', () => {
  let conn: RedisConnection;
  let config: ServiceConfig;
  let services: RunningService[] = [];
  let orderUrl: string;

  before(async () => {
    config = testConfig(testRedisUrl(), 'saga');
    conn = await connectRedis({ url: config.redisUrl });
    const started = await startAll(config);
    services = started.all;
    orderUrl = started.order.url;
  });
  after(async () => {
    await Promise.all(services.map((s) => s.close()));
    await conn.close();
  });

  const finalState = async (id: string) =>
    until(
      async () => {
        const view = await readOrder(conn, config.keyPrefix, id);
        return view &&
          ['COMPLETED_SUCCESSFULLY', 'BLOCKED_NO_FUNDS', 'COMPLETED_WITH_FAILURE'].includes(
            view.state,
          )
          ? view
          : undefined;
      },
      { timeoutMs: 30_000, message: `order ${id} reaches a terminal state` },
    );

  test('normal: paid, shipped, completed; the reservation becomes a deduction', async () => {
    const id = await placeOrder(orderUrl, {
      user: 'alice',
      product: 'shortbread',
      amount: 20,
      country: 'gb',
    });
    const view = await finalState(id);
    assert.deepEqual(
      view.timeline.map((t) => t.state),
      ['AWAITING_PAYMENT', 'PAID', 'AWAITING_SHIPMENT', 'SHIPPED', 'COMPLETED_SUCCESSFULLY'],
    );
    assert.equal(view.country, 'GB');
    assert.deepEqual(
      view.timeline.map((t) => t.by),
      ['order', 'payment', 'order', 'fulfillment', 'order'],
    );
    await waitFor(async () => (await booksOf(conn, config.keyPrefix)).captured === 20, {
      message: 'Payment captured the reservation',
    });
    const books = await booksOf(conn, config.keyPrefix);
    assert.equal(books.balances.alice, 480);
    assert.equal(books.reservations, 0);
    const res = await fetch(`${orderUrl}/orders/${id}`);
    assert.equal(res.status, 200);
    assert.equal(
      ((await res.json()) as { state: string }).state,
      OrderState.COMPLETED_SUCCESSFULLY,
    );
  });

  test('insufficient funds: blocked, Fulfillment never involved, the monitor records it', async () => {
    const id = await placeOrder(orderUrl, {
      user: 'dave',
      product: 'whisky',
      amount: 100,
      country: 'FR',
    });
    const view = await finalState(id);
    assert.deepEqual(
      view.timeline.map((t) => t.state),
      ['AWAITING_PAYMENT', 'FAILED_PAYMENT_NO_FUNDS', 'BLOCKED_NO_FUNDS'],
    );
    assert.equal(await conn.send(['HEXISTS', `${config.keyPrefix}:fulfillment:shipments`, id]), 0);
    const keys = monitorKeys(config.keyPrefix);
    await waitFor(
      async () => (await conn.send(['HGET', keys.outcomes, id])) === 'BLOCKED_NO_FUNDS',
      {
        message: 'the monitor records the outcome',
      },
    );
    const failure = JSON.parse(String(await conn.send(['HGET', keys.failures, id]))) as {
      reason: string;
    };
    assert.equal(failure.reason, 'FAILED_PAYMENT_NO_FUNDS');
    assert.equal((await booksOf(conn, config.keyPrefix)).balances.dave, 60);
  });

  test('banned product (haggis to the US): refunded, completed with failure, recorded', async () => {
    const id = await placeOrder(orderUrl, {
      user: 'bob',
      product: 'haggis',
      amount: 30,
      country: 'US',
    });
    const view = await finalState(id);
    assert.deepEqual(
      view.timeline.map((t) => t.state),
      [
        'AWAITING_PAYMENT',
        'PAID',
        'AWAITING_SHIPMENT',
        'SHIPMENT_FAILED_BANNED_PRODUCT',
        'AWAITING_REFUND',
        'REFUNDED',
        'COMPLETED_WITH_FAILURE',
      ],
    );
    const books = await booksOf(conn, config.keyPrefix);
    assert.equal(books.balances.bob, 300, 'the reservation was released');
    assert.equal(books.reservations, 0);
    const keys = monitorKeys(config.keyPrefix);
    await waitFor(
      async () => (await conn.send(['HGET', keys.outcomes, id])) === 'COMPLETED_WITH_FAILURE',
      {
        message: 'the monitor records the outcome',
      },
    );
    const failure = JSON.parse(String(await conn.send(['HGET', keys.failures, id]))) as {
      reason: string;
    };
    assert.equal(failure.reason, 'SHIPMENT_FAILED_BANNED_PRODUCT');
    assert.deepEqual(ledgerProblems(books.ledger), []);
  });

  test('the HTTP API refuses a malformed order and answers 404 for an unknown one', async () => {
    const bad = await fetch(`${orderUrl}/orders`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'alice', product: 'haggis', amount: -1, country: 'USA' }),
    });
    assert.equal(bad.status, 400);
    assert.equal((await fetch(`${orderUrl}/orders/ord-does-not-exist`)).status, 404);
  });
});

describe('order saga: 1,000 random orders', () => {
  test('every order ends, nothing is charged twice, money is conserved', async () => {
    const config = testConfig(testRedisUrl(), 'saga1k');
    const conn = await connectRedis({ url: config.redisUrl });
    const users = Array.from({ length: 30 }, (_, i) => `user${i}`);
    const balances = Object.fromEntries(users.map((u, i) => [u, (i * 137) % 1500]));
    const initialTotal = Object.values(balances).reduce((a, n) => a + n, 0);
    const products = ['haggis', 'shortbread', 'whisky', 'tartan', 'bagpipes'];
    await seedBalances(conn, config.keyPrefix, balances);
    // Little stock and two bans, so that every path is taken many times.
    await seedWarehouse(conn, config.keyPrefix, Object.fromEntries(products.map((p) => [p, 120])), [
      'haggis:US',
      'whisky:JP',
    ]);
    const started = await startAll(config);
    try {
      let seed = 42;
      const random = (n: number) => {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        return seed % n;
      };
      const orders: Omit<Order, 'orderId'>[] = Array.from({ length: 1000 }, () => ({
        user: users[random(users.length)] as string,
        product: products[random(products.length)] as string,
        amount: 1 + random(200),
        country: ['US', 'GB', 'FR', 'JP', 'DE'][random(5)] as string,
      }));
      const ids = await placeOrders(started.order.url, orders);
      assert.equal(new Set(ids).size, 1000);
      const states = await until(
        async () => {
          const s = await statesOf(conn, config.keyPrefix);
          return terminalCount(s) === 1000 ? s : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 200, message: 'all 1,000 orders reach a terminal state' },
      );
      assert.equal(
        Object.values(states).reduce((a, n) => a + n, 0),
        1000,
        JSON.stringify(states),
      );
      for (const s of ['COMPLETED_SUCCESSFULLY', 'BLOCKED_NO_FUNDS', 'COMPLETED_WITH_FAILURE']) {
        assert.ok((states[s] ?? 0) > 0, `some orders end ${s}: ${JSON.stringify(states)}`);
      }
      const books = await until(
        async () => {
          const b = await booksOf(conn, config.keyPrefix);
          return b.reservations === 0 ? b : undefined;
        },
        { timeoutMs: 30_000, message: 'no reservation is left behind' },
      );
      assert.equal(
        books.balanceTotal + books.captured,
        initialTotal,
        'balances + captured = initial total',
      );
      assert.ok(Object.values(books.balances).every((n) => n >= 0));
      assert.deepEqual(ledgerProblems(books.ledger), []);
      assert.equal(
        books.ledger.filter((l) => l.startsWith('capture ')).length,
        states.COMPLETED_SUCCESSFULLY ?? 0,
      );
    } finally {
      await Promise.all(started.all.map((s) => s.close()));
      await conn.close();
    }
  });
});
