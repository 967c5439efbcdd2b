/**
 * The demo, `npm start`: the order saga, the book-lending service and the
 * storefront, each service in its own process as it would be deployed.
 *
 * - Redis: REDIS_URL when set, else an embedded redis-server with its data in
 *   .herald/demo-redis (AOF on: orders and balances survive a restart).
 * - Seeds balances, stock and books (only where there are none yet).
 * - Starts Order, Payment, Fulfillment, Failure Monitor and Lending as child
 *   processes (`node --import tsx examples/…`), and the storefront here.
 * - Ctrl-C: every child gets SIGTERM and closes its subscriptions gracefully;
 *   then the storefront and the embedded Redis stop.
 *
 * - Serves the operator console (`herald console`) beside it, on port 7070 or a free one.
 *
 *   npm start                    # storefront on http://127.0.0.1:3000, console on :7070
 *   npm start -- --port 8080
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  connectRedis,
  errorMessage,
  getFreePort,
  redactAll,
  redactUrl,
  secretsOf,
  startRedisServer,
  type RedisServerHandle,
} from '../../src/index.ts';
import { seedStorage, DEMO_BOOKS } from '../lending/service.ts';
import { seedWarehouse } from '../saga/fulfillment.ts';
import { seedBalances } from '../saga/payment.ts';
import { configFromEnv } from '../saga/runtime.ts';
import { startStorefront, type Storefront } from '../storefront/server.ts';
import { startConsole, type RunningConsole } from '../../src/console/server.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const STOP_TIMEOUT_MS = 10_000;
/** The password of REDIS_URL, masked in every line the demo and its services print. */
const secrets = secretsOf(process.env.REDIS_URL);
const clean = (text: string): string => redactAll(text, secrets);

interface Child {
  readonly name: string;
  readonly process: ChildProcess;
  readonly exited: Promise<void>;
}

let stopping = false;

/** Starts one service as its own process; its output is prefixed with its name. Resolves once it is ready. */
async function startChild(name: string, file: string, env: Record<string, string>): Promise<Child> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const label = `[${name}]`.padEnd(14);
  let ready: () => void = () => {};
  let failed: (e: Error) => void = () => {};
  const isReady = new Promise<void>((resolve, reject) => {
    ready = resolve;
    failed = reject;
  });
  const forward = (stream: NodeJS.WritableStream) => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) {
      if (line === '') continue;
      stream.write(`${label} ${clean(line)}\n`);
      if (line.endsWith(' ready')) ready();
    }
  };
  child.stdout?.on('data', forward(process.stdout));
  child.stderr?.on('data', forward(process.stderr));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      failed(new Error(`${name} exited (${signal ?? code}) before it was ready`));
      if (!stopping) {
        console.error(
          `${label} exited (${signal ?? code}). Start it again alone with: node --import tsx ${file}`,
        );
      }
      resolve();
    }),
  );
  await isReady;
  return { name, process: child, exited };
}

async function stopChild(child: Child): Promise<void> {
  child.process.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    child.exited,
    new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        console.error(`[${child.name}] did not stop within ${STOP_TIMEOUT_MS / 1000} s: SIGKILL`);
        child.process.kill('SIGKILL');
        resolve();
      }, STOP_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { port: { type: 'string' } } });
  const askedPort = values.port ?? process.env.PORT;

  let redis: RedisServerHandle | undefined;
  let redisUrl = process.env.REDIS_URL;
  if (redisUrl === undefined || redisUrl === '') {
    redis = await startRedisServer({ dir: `${root}.herald/demo-redis`, appendonly: true });
    redisUrl = redis.url;
    console.log(`Embedded Redis on ${redisUrl} (data in .herald/demo-redis)`);
  } else {
    console.log(`Using Redis at ${redactUrl(redisUrl)}`);
  }
  const config = { ...configFromEnv(), redisUrl };

  const conn = await connectRedis({ url: redisUrl });
  await seedBalances(conn, config.keyPrefix);
  await seedWarehouse(conn, config.keyPrefix);
  await seedStorage(conn, DEMO_BOOKS, process.env.LENDING_PREFIX ?? '');
  await conn.close();

  const orderPort = await getFreePort();
  const env = {
    REDIS_URL: redisUrl,
    DEMO_PREFIX: config.keyPrefix,
    HERALD_PREFIX: config.heraldPrefix,
    ORDER_PORT: String(orderPort),
    // The services print their own "ready" lines; the library's log shows warnings and errors
    // (dead letters, lost connections) unless asked for more.
    HERALD_LOG_LEVEL: process.env.HERALD_LOG_LEVEL ?? 'warn',
  };
  const children: Child[] = [];
  let storefront: Storefront | undefined;
  let operatorConsole: RunningConsole | undefined;

  const shutdown = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the services…`);
    await Promise.all(children.map(stopChild));
    await storefront?.close();
    await operatorConsole?.close();
    await redis?.stop();
    console.log('Stopped.');
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  const services: [string, string][] = [
    ['order', 'examples/saga/order.ts'],
    ['payment', 'examples/saga/payment.ts'],
    ['fulfillment', 'examples/saga/fulfillment.ts'],
    ['monitor', 'examples/saga/failure-monitor.ts'],
    ['lending', 'examples/lending/service.ts'],
  ];
  try {
    for (const c of await Promise.all(
      services.map(([name, file]) => startChild(name, file, env)),
    )) {
      children.push(c);
    }
    const orderUrl = `http://127.0.0.1:${orderPort}`;
    const base = { redisUrl, keyPrefix: config.keyPrefix, orderUrl };
    try {
      storefront = await startStorefront({ ...base, port: Number(askedPort ?? 3000) });
    } catch (e) {
      // Port 3000 taken and no port asked for: take any free one.
      if (askedPort !== undefined || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      storefront = await startStorefront({ ...base, port: 0 });
    }
    const consoleOptions = { url: redisUrl, prefix: config.heraldPrefix };
    operatorConsole = await startConsole(consoleOptions).catch((e: NodeJS.ErrnoException) => {
      // Port 7070 taken: take any free one.
      if (e.code !== 'EADDRINUSE') throw e;
      return startConsole({ ...consoleOptions, port: 0 });
    });
  } catch (e) {
    console.error(`The demo could not start: ${clean(errorMessage(e))}`);
    await shutdown('error', 1);
    return;
  }

  // A Redis of the user's (REDIS_URL) may have a password: the commands refer to the variable.
  const cliUrl = redis !== undefined ? redisUrl : '"$REDIS_URL"';
  const envUrl = redis !== undefined ? `REDIS_URL=${redisUrl} ` : '';
  console.log(`
  Herald demo is running.

    Storefront      ${storefront.url}
    Console         ${operatorConsole.url}/   (herald console: topics, groups, dead letters, queues)
    Order API       ${`http://127.0.0.1:${orderPort}`}/orders/<id>
    Redis           ${redactUrl(redisUrl)}

  Lend a book:      redis-cli -u ${cliUrl} XADD lending_requests_event_stream '*' user_id Salvatore book_ids ofmiceandmen
                    ${envUrl}node --import tsx examples/lending/cli.ts status Salvatore
  Stop:             Ctrl-C
`);
}

try {
  await main();
} catch (e) {
  // Not node's default report of an uncaught error: that prints the error's fields unredacted.
  console.error(`The demo could not start: ${clean(errorMessage(e))}`);
  process.exit(1);
}
