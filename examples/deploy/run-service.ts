/**
 * Runs one saga service as a container's process, with the endpoints an orchestrator
 * probes (deploy/kubernetes, deploy/compose):
 *
 *   GET /healthz   200 while the process runs (liveness)
 *   GET /readyz    200 once the service runs and Redis answers PING within 2 s; 503 while
 *                  starting, when Redis does not answer, and once SIGTERM has arrived
 *   GET /metrics   the process's Prometheus metrics (CPU, memory, event loop, GC)
 *
 * On SIGTERM it turns unready, closes the service (running handlers finish within Herald's
 * close deadline, 10 s, and are acknowledged) and exits 0.
 *
 *   SERVICE=payment HEALTH_PORT=9090 REDIS_URL=redis://redis:6379 node examples/deploy/run-service.js
 *
 * SERVICE is order, payment, fulfillment or failure-monitor. HEALTH_HOST (default 127.0.0.1)
 * is the address the endpoints listen on; a container sets 0.0.0.0. The other variables are
 * the services' own (docs/demo.md).
 */
import http from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { connectRedis, type RedisConnection } from '../../src/index.ts';
import { startFailureMonitor } from '../saga/failure-monitor.ts';
import { startFulfillmentService } from '../saga/fulfillment.ts';
import { startOrderService } from '../saga/order.ts';
import { startPaymentService } from '../saga/payment.ts';
import { configFromEnv, type RunningService, type ServiceConfig } from '../saga/runtime.ts';

/** Default port of the probe and metrics endpoints. */
export const DEFAULT_HEALTH_PORT = 9090;
/** A readiness probe that waits longer than this for Redis answers 503. */
const READY_PING_TIMEOUT_MS = 2000;

const SERVICES: Record<string, (config: ServiceConfig) => Promise<RunningService>> = {
  order: (config) =>
    startOrderService(config, {
      port: Number(process.env.ORDER_PORT ?? 3001),
      host: process.env.ORDER_HOST ?? '127.0.0.1',
    }),
  payment: startPaymentService,
  fulfillment: startFulfillmentService,
  'failure-monitor': startFailureMonitor,
};

type State = 'starting' | 'running' | 'closing';

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

async function pingWithin(conn: RedisConnection, timeoutMs: number): Promise<boolean> {
  try {
    return (await conn.send(['PING'], { timeoutMs })) === 'PONG';
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const name = process.env.SERVICE ?? process.argv[2] ?? '';
  const start = SERVICES[name];
  if (start === undefined) {
    console.error(`SERVICE must be one of ${Object.keys(SERVICES).join(', ')}; got '${name}'`);
    process.exit(2);
  }
  const config = configFromEnv();
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let state: State = 'starting';
  const running: { service?: RunningService; probe?: RedisConnection } = {};

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return json(res, 200, { status: 'ok', service: name });
    if (path === '/readyz') {
      if (state !== 'running' || running.probe === undefined)
        return json(res, 503, { status: state });
      void pingWithin(running.probe, READY_PING_TIMEOUT_MS).then((ok) =>
        json(res, ok ? 200 : 503, { status: ok ? 'ready' : 'redis unreachable' }),
      );
      return;
    }
    if (path === '/metrics') {
      void registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType }).end(text);
      });
      return;
    }
    json(res, 404, { error: 'try /healthz, /readyz or /metrics' });
  });
  const port = Number(process.env.HEALTH_PORT ?? DEFAULT_HEALTH_PORT);
  const host = process.env.HEALTH_HOST ?? '127.0.0.1';
  await new Promise<void>((resolve) => server.listen(port, host, resolve));

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    state = 'closing';
    console.log(`${name}: ${signal}, closing`);
    void (async () => {
      await running.service?.close();
      await running.probe?.close();
      server.close();
      process.exit(0);
    })().catch((e: unknown) => {
      console.error(`${name}: close failed`, e);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  running.probe = await connectRedis({ url: config.redisUrl });
  running.service = await start(config);
  if (!stopping) state = 'running';
  console.log(`${name} ready (probes on http://${host}:${port})`);
}

main().catch((e: unknown) => {
  console.error('could not start:', e instanceof Error ? e.message : e);
  process.exit(1);
});
