import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connectRedis, type RedisConnection } from '../../src/index.ts';
import { getFreePort } from '../../src/embedded/redis-server.ts';
import { testRedisUrl } from '../../src/test-support/redis.ts';
import type { Order } from './events.ts';
import { fulfillmentKeys, seedWarehouse } from './fulfillment.ts';
import { seedBalances } from './payment.ts';
import {
  booksOf,
  envFor,
  ledgerProblems,
  placeOrder,
  spawnService,
  statesOf,
  terminalCount,
  testConfig,
  until,
  type ServiceProcess,
} from './test-support.ts';

describe('order saga: a service killed with SIGKILL in the middle of a burst', () => {
  let conn: RedisConnection;
  const running = new Set<ServiceProcess>();

  before(async () => {
    conn = await connectRedis({ url: testRedisUrl() });
  });
  after(async () => {
    await Promise.all([...running].map((p) => p.kill()));
    await conn.close();
  });

  test('every order still completes; nothing is charged, refunded or shipped twice', async () => {
    const config = testConfig(testRedisUrl(), 'sagacrash');
    const port = await getFreePort();
    const env = { ...envFor(config), ORDER_PORT: String(port) };
    const orderUrl = `http://127.0.0.1:${port}`;
    const users = Array.from({ length: 12 }, (_, i) => `user${i}`);
    const balances = Object.fromEntries(users.map((u, i) => [u, 200 + i * 150]));
    const initialTotal = Object.values(balances).reduce((a, n) => a + n, 0);
    const stock = { haggis: 80, shortbread: 80, whisky: 80 };
    await seedBalances(conn, config.keyPrefix, balances);
    await seedWarehouse(conn, config.keyPrefix, stock, ['haggis:US']);

    const start = async (file: string) => {
      const p = await spawnService(file, env);
      running.add(p);
      return p;
    };
    const crash = async (p: ServiceProcess) => {
      await p.kill();
      running.delete(p);
    };
    const [, payment, fulfillment] = await Promise.all(
      ['order.ts', 'payment.ts', 'fulfillment.ts', 'failure-monitor.ts'].map(start),
    );

    const total = 300;
    const products = Object.keys(stock);
    const orderAt = (i: number): Omit<Order, 'orderId'> => ({
      user: users[i % users.length] as string,
      product: products[(i * 7) % products.length] as string,
      amount: 10 + ((i * 37) % 150),
      country: ['US', 'GB', 'FR'][(i * 5) % 3] as string,
    });
    // The burst: Payment dies a third of the way in and comes back at two thirds;
    // Fulfillment dies at half-way and comes back at the end.
    const placed: string[] = [];
    let restartedPayment: Promise<ServiceProcess> | undefined;
    for (let batch = 0; batch < total / 10; batch++) {
      const ids = await Promise.all(
        Array.from({ length: 10 }, (_, j) => placeOrder(orderUrl, orderAt(batch * 10 + j))),
      );
      placed.push(...ids);
      if (placed.length === 100) await crash(payment as ServiceProcess);
      if (placed.length === 150) await crash(fulfillment as ServiceProcess);
      if (placed.length === 200) {
        const waiting = (await statesOf(conn, config.keyPrefix)).AWAITING_PAYMENT ?? 0;
        assert.ok(waiting > 0, 'orders placed while Payment was down wait for it');
        restartedPayment = start('payment.ts');
      }
    }
    const restartedFulfillment = start('fulfillment.ts');
    await Promise.all([restartedPayment, restartedFulfillment]);

    const states = await until(
      async () => {
        const s = await statesOf(conn, config.keyPrefix);
        return terminalCount(s) === total ? s : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, message: `all ${total} orders reach a terminal state` },
    );
    assert.ok(
      (states.COMPLETED_SUCCESSFULLY ?? 0) > 0 && (states.COMPLETED_WITH_FAILURE ?? 0) > 0,
      JSON.stringify(states),
    );
    const books = await until(
      async () => {
        const b = await booksOf(conn, config.keyPrefix);
        return b.reservations === 0 ? b : undefined;
      },
      { timeoutMs: 30_000, message: 'every reservation is settled' },
    );
    assert.deepEqual(
      ledgerProblems(books.ledger),
      [],
      'each order reserved once and settled at most once',
    );
    assert.equal(books.balanceTotal + books.captured, initialTotal, 'money is conserved');
    const captures = books.ledger.filter((l) => l.startsWith('capture ')).length;
    assert.equal(captures, states.COMPLETED_SUCCESSFULLY ?? 0, 'one capture per shipped order');

    const fk = fulfillmentKeys(config.keyPrefix);
    const shipments = Number(await conn.send(['HLEN', fk.shipments]));
    assert.equal(shipments, states.COMPLETED_SUCCESSFULLY ?? 0, 'one shipment per completed order');
    const left = Object.values(
      Object.fromEntries(
        Object.entries(await conn.send<Record<string, string>>(['HGETALL', fk.stock])),
      ),
    ).reduce((a, n) => a + Number(n), 0);
    assert.equal(left, 240 - shipments, 'stock went down once per shipment');
  });
});
