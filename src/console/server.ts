/**
 * The console and HTTP gateway: one fastify server with the operator UI, the
 * operator endpoints and the publish/consume gateway, all declared as route
 * specs (see route.ts). Loopback by default; on any other address it refuses
 * to start without tokens.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import { ConfigError } from '../core/errors.ts';
import { heraldLogger, type HeraldLogger } from '../core/logger.ts';
import { connectHerald } from '../herald.ts';
import { createExporter } from '../ops/exporter.ts';
import type { RedisBackend } from '../redis/backend.ts';
import { AckRegistry } from './ack-registry.ts';
import {
  allows,
  authenticate,
  isLoopback,
  loadTokens,
  type Caller,
  type TokenEntry,
} from './auth.ts';
import { toHttpAnswer } from './http-errors.ts';
import { Monitor, type MonitorOptions } from './monitor.ts';
import { openApiDocument } from './openapi.ts';
import { DEFAULT_RATE_LIMIT, RateLimiter, type RateLimitOptions } from './rate-limit.ts';
import type { ConsoleContext, ConsoleLimits, RouteSpec } from './route.ts';
import { deadLetterRoutes, queueRoutes } from './routes/dead-letters.ts';
import { gatewayRoutes } from './routes/gateway.ts';
import { healthRoutes } from './routes/health.ts';
import { operatorRoutes } from './routes/operator.ts';

export const DEFAULT_CONSOLE_PORT = 7070;
export const DEFAULT_CONSOLE_HOST = '127.0.0.1';
/** Largest request body; more gets 413. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_LIMITS: ConsoleLimits = {
  maxBatch: 1000,
  maxBrowse: 1000,
  maxStreams: 200,
  threshold: 0.9,
};

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  }
).version;

/** Every route the server has, in the order of the OpenAPI document. */
export const ROUTES: readonly RouteSpec[] = [
  ...healthRoutes,
  ...gatewayRoutes,
  ...operatorRoutes,
  ...deadLetterRoutes,
  ...queueRoutes,
  {
    method: 'GET',
    url: '/openapi.json',
    summary: 'This document',
    tag: 'health',
    need: () => ({ kind: 'none' }),
    responses: { 200: 'OpenAPI 3.1' },
    handler: () => Promise.resolve(openApiDocument(ROUTES, VERSION)),
  },
];

export interface ConsoleOptions {
  /** Redis URL (default REDIS_URL, else redis://127.0.0.1:6379); ignored when `backend` is given. */
  readonly url?: string;
  readonly prefix?: string;
  /** A connected backend to use (not closed by the console). Default: connectHerald() with the capacity guard. */
  readonly backend?: RedisBackend;
  /** Default 127.0.0.1. Anything but loopback needs tokens. */
  readonly host?: string;
  /** Default 7070; 0 picks a free port. */
  readonly port?: number;
  /** Tokens; added to those of `tokensFile` and HERALD_CONSOLE_TOKENS. */
  readonly tokens?: readonly TokenEntry[];
  readonly tokensFile?: string;
  /** Default 1 MiB. */
  readonly bodyLimitBytes?: number;
  readonly rateLimit?: RateLimitOptions;
  readonly limits?: Partial<ConsoleLimits>;
  readonly monitor?: Omit<MonitorOptions, 'conn' | 'prefix' | 'logger'>;
  readonly logger?: HeraldLogger;
  /** Environment to read HERALD_CONSOLE_TOKENS from. Default process.env. */
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunningConsole {
  /** e.g. http://127.0.0.1:7070 */
  readonly url: string;
  readonly port: number;
  /** True when requests need a token. */
  readonly secured: boolean;
  readonly app: FastifyInstance;
  /** Every method and path the server answers (HEAD twins left out), as fastify registered them. */
  readonly registered: readonly { readonly method: string; readonly url: string }[];
  close(): Promise<void>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    spec?: RouteSpec;
  }
}

const CONTENT_TYPES = ['application/cloudevents+json', 'application/cloudevents-batch+json'];

function checkAccess(
  req: FastifyRequest,
  spec: RouteSpec,
  tokens: readonly TokenEntry[],
): { status: 401 | 403; message: string } | Caller {
  const need = spec.need(req);
  if (tokens.length === 0) return { name: 'anonymous', rights: ['admin'] };
  if (need.kind === 'none') return { name: 'anonymous', rights: [] };
  const caller = authenticate(tokens, req.headers.authorization);
  if (!caller) return { status: 401, message: 'a valid bearer token is required' };
  if (!allows(caller, need)) {
    const what =
      need.kind === 'publish'
        ? `publish to '${need.topic}'`
        : need.kind === 'consume'
          ? `consume as '${need.group}'`
          : need.kind;
    return { status: 403, message: `token '${caller.name}' has no right to ${what}` };
  }
  return caller;
}

/** Starts the console and gateway. */
export async function startConsole(options: ConsoleOptions = {}): Promise<RunningConsole> {
  const host = options.host ?? DEFAULT_CONSOLE_HOST;
  const tokens = [...(options.tokens ?? []), ...loadTokens(options.tokensFile, options.env)];
  if (!isLoopback(host) && tokens.length === 0) {
    throw new ConfigError(
      `refusing to serve on ${host} without tokens: anyone who can reach it could publish, reset and purge. ` +
        'Give --tokens FILE or HERALD_CONSOLE_TOKENS (see docs/console.md), or bind to 127.0.0.1',
    );
  }
  const logger = heraldLogger(options.logger);
  const backend =
    options.backend ??
    (await connectHerald({
      ...(options.url !== undefined ? { url: options.url } : {}),
      ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
      logger,
    }));
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const monitor = new Monitor({
    conn: backend.conn,
    prefix: backend.prefix,
    logger,
    threshold: limits.threshold,
    ...options.monitor,
  });
  const ctx: ConsoleContext = {
    backend,
    monitor,
    exporter: createExporter({
      conn: backend.conn,
      prefix: backend.prefix,
      threshold: limits.threshold,
      logger,
    }),
    acks: new AckRegistry(),
    logger,
    limits,
    streams: new Set(),
  };
  const limiter = new RateLimiter(options.rateLimit ?? DEFAULT_RATE_LIMIT);
  const app = Fastify({
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT,
    logger: false,
    trustProxy: false,
  });
  app.addContentTypeParser(CONTENT_TYPES, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, JSON.parse(String(body)));
    } catch (e) {
      done(
        Object.assign(e as Error, { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }),
        undefined,
      );
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    const spec = req.routeOptions.config.spec;
    if (!spec) return;
    const access = checkAccess(req, spec, tokens);
    if ('status' in access) {
      reply.header('connection', 'close');
      if (access.status === 401) reply.header('www-authenticate', 'Bearer');
      return reply.code(access.status).send({
        error: {
          code: access.status === 401 ? 'HERALD_UNAUTHORIZED' : 'HERALD_FORBIDDEN',
          message: access.message,
        },
      });
    }
    if (spec.need(req).kind === 'none') return;
    const wait = limiter.take(tokens.length === 0 ? `ip:${req.ip}` : access.name);
    if (wait > 0) {
      return reply
        .code(429)
        .header('retry-after', String(wait))
        .send({
          error: { code: 'HERALD_RATE_LIMITED', message: `rate limit reached: retry in ${wait} s` },
        });
    }
  });

  app.setErrorHandler((err, req, reply) => {
    const a = toHttpAnswer(err);
    if (a.unexpected) logger.error({ err, url: req.url }, 'herald console: request failed');
    if (a.retryAfter !== undefined) reply.header('retry-after', String(a.retryAfter));
    // A body refused for its size is not read: close the connection instead of draining it.
    if (a.status === 413) reply.header('connection', 'close');
    void reply.code(a.status).send(a.body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({
      error: {
        code: 'HERALD_NOT_FOUND',
        message: `no endpoint ${req.method} ${req.url.split('?')[0]}`,
      },
    });
  });

  const registered: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat())
      if (method !== 'HEAD') registered.push({ method, url: r.url });
  });
  for (const spec of ROUTES) {
    app.route({
      method: spec.method,
      url: spec.url,
      config: { spec },
      handler: (req, reply) => spec.handler(ctx, req, reply),
    });
  }

  monitor.start();
  try {
    await app.listen({ host, port: options.port ?? DEFAULT_CONSOLE_PORT });
  } catch (e) {
    monitor.stop();
    if (!options.backend) await backend.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    secured: tokens.length > 0,
    app,
    registered,
    async close() {
      monitor.stop();
      for (const s of ctx.streams) s.abort();
      await app.close();
      if (!options.backend) await backend.close({ deadlineMs: 1000 });
    },
  };
}
