/**
 * Helpers for the saga's tests: configuration isolated by key prefix, placing
 * orders over the Order service's HTTP API, and reading the services' books
 * to check that every order ended and that money was conserved.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RedisConnection } from '../../src/index.ts';
import { toRecord } from '../../src/redis/replies.ts';
import { uniquePrefix, waitFor } from '../../src/test-support/redis.ts';
import { TERMINAL_STATES, type Order } from './events.ts';
import { orderKeys } from './order.ts';
import { paymentKeys } from './payment.ts';
import type { ServiceConfig } from './runtime.ts';

export function testConfig(redisUrl: string, name: string): ServiceConfig {
  const prefix = uniquePrefix(name);
  return {
    redisUrl,
    keyPrefix: `${prefix}:demo`,
    heraldPrefix: `${prefix}:herald`,
    visibilityTimeoutMs: 2000,
    concurrency: 20,
  };
}

/** The environment that gives a service process the same configuration. */
export function envFor(config: ServiceConfig): Record<string, string> {
  return {
    REDIS_URL: config.redisUrl,
    DEMO_PREFIX: config.keyPrefix,
    HERALD_PREFIX: config.heraldPrefix,
    VISIBILITY_MS: String(config.visibilityTimeoutMs),
  };
}

export async function placeOrder(orderUrl: string, order: Omit<Order, 'orderId'>): Promise<string> {
  const res = await fetch(`${orderUrl}/orders`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(order),
  });
  if (res.status !== 201)
    throw new Error(`POST /orders answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { orderId: string }).orderId;
}

/** Places orders, `parallel` at a time; resolves to their ids in order. */
export async function placeOrders(
  orderUrl: string,
  orders: readonly Omit<Order, 'orderId'>[],
  parallel = 20,
): Promise<string[]> {
  const ids: string[] = new Array<string>(orders.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < orders.length) {
        const i = next++;
        ids[i] = await placeOrder(orderUrl, orders[i] as Omit<Order, 'orderId'>);
      }
    }),
  );
  return ids;
}

/** Orders per state, from the Order service's counters. */
export async function statesOf(
  conn: RedisConnection,
  keyPrefix: string,
): Promise<Record<string, number>> {
  const row = toRecord(await conn.send(['HGETALL', orderKeys(keyPrefix).states]));
  return Object.fromEntries(
    Object.entries(row)
      .map(([k, v]) => [k, Number(v)] as const)
      .filter(([, n]) => n !== 0),
  );
}

export function terminalCount(states: Record<string, number>): number {
  return TERMINAL_STATES.reduce((sum, s) => sum + (states[s] ?? 0), 0);
}

export interface Books {
  readonly balances: Record<string, number>;
  readonly balanceTotal: number;
  readonly captured: number;
  readonly reservations: number;
  readonly ledger: string[];
}

/** Payment's books. */
export async function booksOf(conn: RedisConnection, keyPrefix: string): Promise<Books> {
  const keys = paymentKeys(keyPrefix);
  const [balances, captured, reservations, ledger] = await conn.pipeline([
    ['HGETALL', keys.balances],
    ['GET', keys.captured],
    ['HLEN', keys.reservations],
    ['LRANGE', keys.ledger, '0', '-1'],
  ]);
  const b = Object.fromEntries(Object.entries(toRecord(balances)).map(([k, v]) => [k, Number(v)]));
  return {
    balances: b,
    balanceTotal: Object.values(b).reduce((a, n) => a + n, 0),
    captured: Number(captured ?? 0),
    reservations: Number(reservations),
    ledger: ledger as string[],
  };
}

/**
 * Money movements per order from Payment's ledger: every order is reserved at
 * most once and settled (captured or released) at most once, and only if reserved.
 */
export function ledgerProblems(ledger: readonly string[]): string[] {
  const perOrder = new Map<string, string[]>();
  for (const line of ledger) {
    const [op, orderId] = line.split(' ');
    const list = perOrder.get(orderId as string) ?? [];
    list.push(op as string);
    perOrder.set(orderId as string, list);
  }
  const problems: string[] = [];
  for (const [orderId, ops] of perOrder) {
    const reserves = ops.filter((o) => o === 'reserve').length;
    const settles = ops.filter((o) => o === 'capture' || o === 'release').length;
    if (reserves !== 1 || settles > 1) problems.push(`${orderId}: ${ops.join(', ')}`);
  }
  return problems;
}

/** waitFor for a condition that yields a value once met (undefined until then). */
export async function until<T>(
  fn: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; message?: string },
): Promise<T> {
  return (await waitFor(fn, options)) as T;
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Everything the process printed. */
  output(): string;
  /** SIGKILL, as a crash; resolves once it exited. */
  kill(): Promise<void>;
  /** SIGTERM, as a deployment would; resolves to the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `examples/saga/<file>` as its own process, the way it is deployed
 * (`node --import tsx …`), and resolves once it printed its ready line.
 */
export async function spawnService(
  file: string,
  env: Record<string, string>,
): Promise<ServiceProcess> {
  const path = fileURLToPath(new URL(`./${file}`, import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', path], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (/ ready\n/.test(out)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()));
    void exited.then((code) =>
      reject(new Error(`${file} exited (${code}) before it was ready:\n${out}`)),
    );
  });
  await ready;
  return {
    child,
    output: () => out,
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
