/** Process and readiness probes, Prometheus metrics, the OpenAPI document and the UI's static files. */
import { readFile } from 'node:fs/promises';
import { capacityVerdict } from '../../ops/capacity.ts';
import { metricsHandler } from '../../ops/exporter.ts';
import { AUTH_RESPONSES, needs, type RouteSpec } from '../route.ts';
import { RETRY_AFTER_SECONDS } from '../http-errors.ts';

const READY_TIMEOUT_MS = 2000;

const healthz: RouteSpec = {
  method: 'GET',
  url: '/healthz',
  summary: 'The process is up',
  tag: 'health',
  need: needs.none,
  responses: { 200: '{status: "ok"}' },
  handler: () => Promise.resolve({ status: 'ok' }),
};

const readyz: RouteSpec = {
  method: 'GET',
  url: '/readyz',
  summary: 'Redis is reachable and the capacity guard would not refuse publishes',
  tag: 'health',
  need: needs.none,
  responses: { 200: '{status: "ready", capacity}', 503: 'Redis unreachable or near maxmemory' },
  async handler(ctx, _req, reply) {
    try {
      const info = await ctx.backend.conn.send(['INFO', 'memory'], { timeoutMs: READY_TIMEOUT_MS });
      const v = capacityVerdict(String(info), ctx.limits.threshold);
      if (!v.ok) {
        reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS));
        return { status: 'refusing', reason: 'capacity', capacity: v };
      }
      return { status: 'ready', capacity: v };
    } catch (e) {
      reply.code(503).header('retry-after', String(RETRY_AFTER_SECONDS));
      return { status: 'unavailable', reason: e instanceof Error ? e.message : String(e) };
    }
  },
};

const metrics: RouteSpec = {
  method: 'GET',
  url: '/metrics',
  summary: "Prometheus metrics of Herald's state in Redis (the exporter's)",
  tag: 'health',
  need: needs.read,
  produces: 'text/plain; version=0.0.4',
  responses: { 200: 'Prometheus text exposition', ...AUTH_RESPONSES },
  handler(ctx, req, reply) {
    reply.hijack();
    metricsHandler(ctx.exporter)(req.raw, reply.raw);
    return Promise.resolve(undefined);
  },
};

const PUBLIC = new URL('../public/', import.meta.url);

function file(url: string, name: string, type: string, summary: string): RouteSpec {
  return {
    method: 'GET',
    url,
    summary,
    tag: 'ui',
    need: needs.none,
    produces: type,
    responses: { 200: summary },
    async handler(_ctx, _req, reply) {
      reply.type(type).header('cache-control', 'no-cache');
      return readFile(new URL(name, PUBLIC));
    },
  };
}

export const healthRoutes: readonly RouteSpec[] = [
  healthz,
  readyz,
  metrics,
  file('/', 'index.html', 'text/html; charset=utf-8', 'The console (a single page; no CDN)'),
  file('/app.js', 'app.js', 'text/javascript; charset=utf-8', "The console's script"),
  file('/style.css', 'style.css', 'text/css; charset=utf-8', "The console's styles"),
];

export { AUTH_RESPONSES };
