/**
 * Every endpoint is declared once, as a RouteSpec: the server registers it,
 * the auth hook reads what it needs, and the OpenAPI document is generated
 * from the same list (a test checks the document against the routes the
 * server actually has).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Exporter } from '../ops/exporter.ts';
import type { RedisBackend } from '../redis/backend.ts';
import type { HeraldLogger } from '../core/logger.ts';
import type { Need } from './auth.ts';
import type { AckRegistry } from './ack-registry.ts';
import type { Monitor } from './monitor.ts';

export interface ConsoleLimits {
  /** Events accepted in one publish request. */
  readonly maxBatch: number;
  /** Events returned by one browse request. */
  readonly maxBrowse: number;
  /** Streams (tail, consume, live) open at once; more get 503. */
  readonly maxStreams: number;
  /** Capacity threshold for /readyz (as the capacity guard's). */
  readonly threshold: number;
}

export interface ConsoleContext {
  readonly backend: RedisBackend;
  readonly monitor: Monitor;
  readonly exporter: Exporter;
  readonly acks: AckRegistry;
  readonly logger: HeraldLogger;
  readonly limits: ConsoleLimits;
  /** Streams open now; closing the server ends them. */
  readonly streams: Set<AbortController>;
}

export interface Param {
  readonly name: string;
  readonly description: string;
  readonly required?: boolean;
  readonly schema?: Record<string, unknown>;
}

export type Method = 'GET' | 'POST' | 'DELETE';

export interface RouteSpec {
  readonly method: Method;
  /** Fastify path syntax: `/v1/topics/:topic/events`. */
  readonly url: string;
  readonly summary: string;
  readonly tag: 'gateway' | 'operator' | 'health' | 'ui';
  /** What the caller needs; may read params and query. */
  readonly need: (req: FastifyRequest) => Need;
  readonly query?: readonly Param[];
  /** Request body: a description and a JSON Schema. */
  readonly body?: { readonly description: string; readonly schema: Record<string, unknown> };
  /** Status codes it answers with, and why. */
  readonly responses: Readonly<Record<number, string>>;
  /** Answers with server-sent events (text/event-stream). */
  readonly stream?: boolean;
  /** Content type of a successful answer when not JSON. */
  readonly produces?: string;
  readonly handler: (
    ctx: ConsoleContext,
    req: FastifyRequest,
    reply: FastifyReply,
  ) => Promise<unknown>;
}

/** Helpers for `need`. */
export const needs = {
  none: (): Need => ({ kind: 'none' }),
  read: (): Need => ({ kind: 'read' }),
  admin: (): Need => ({ kind: 'admin' }),
};

/** Route params as strings. */
export function params(req: FastifyRequest): Record<string, string> {
  return req.params as Record<string, string>;
}

/** Query values as strings (the first of repeated ones). */
export function query(req: FastifyRequest): Record<string, string | undefined> {
  const q = req.query as Record<string, string | string[] | undefined>;
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(q)) out[k] = Array.isArray(v) ? v[0] : v;
  return out;
}

/** Statuses every protected route can answer with. */
export const AUTH_RESPONSES = {
  401: 'no token, or a wrong one (nothing was done)',
  403: 'the token does not have the right',
  429: 'rate limit: wait Retry-After seconds',
} as const;
