/** The gateway: publish over HTTP, consume as a group over server-sent events with explicit acks, tail. */
import type { FastifyRequest } from 'fastify';
import type { Delivery } from '../../core/event.ts';
import type { StartFrom } from '../../core/contract.ts';
import { resolveTopic } from '../../ops/inspect.ts';
import { parseStreamTarget, firstIdOf, streamIdBefore } from '../../ops/stream-ids.ts';
import { decodeEntry } from '../../ops/browse.ts';
import { allPartitionKeys } from '../../redis/keys.ts';
import { eventsOfBody } from '../events-in.ts';
import { HttpError } from '../http-errors.ts';
import {
  AUTH_RESPONSES,
  needs,
  params,
  query,
  type ConsoleContext,
  type RouteSpec,
} from '../route.ts';
import { openSse } from '../sse.ts';

/** Default time an HTTP consumer has to acknowledge an event before it is retried. */
export const DEFAULT_ACK_TIMEOUT_MS = 30_000;
const MAX_ACK_TIMEOUT_MS = 15 * 60_000;
const DEFAULT_IN_FLIGHT = 10;
const MAX_IN_FLIGHT = 1000;
const TAIL_BLOCK_MS = 5000;
const TAIL_COUNT = 200;

function intQuery(value: string | undefined, name: string, def: number, max: number): number {
  if (value === undefined || value === '') return def;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max)
    throw new HttpError(
      400,
      'HERALD_VALIDATION',
      `${name} must be a whole number from 1 to ${max}`,
    );
  return n;
}

function requiredGroup(req: FastifyRequest): string {
  const g = query(req).group;
  if (typeof g !== 'string' || g === '')
    throw new HttpError(400, 'HERALD_VALIDATION', 'group is required');
  return g;
}

/** Opens a stream, counted against the limit; 503 when too many are open. */
function admitStream(ctx: ConsoleContext): AbortController {
  if (ctx.streams.size >= ctx.limits.maxStreams)
    throw new HttpError(503, 'HERALD_BUSY', `too many open streams (${ctx.limits.maxStreams})`, {
      retryAfter: 5,
    });
  const c = new AbortController();
  ctx.streams.add(c);
  return c;
}

const publish: RouteSpec = {
  method: 'POST',
  url: '/v1/topics/:topic/events',
  summary:
    'Publish one event or a batch (Herald JSON or CloudEvents structured mode); idempotent by event id',
  tag: 'gateway',
  need: (req) => ({ kind: 'publish', topic: params(req).topic ?? '' }),
  body: {
    description:
      'An event {data, type?, id?, key?, source?, subject?, time?, headers?, traceparent?}, a CloudEvent ' +
      '(application/cloudevents+json), or an array of either (application/cloudevents-batch+json)',
    schema: { oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' } }] },
  },
  responses: {
    202: 'stored: {receipts: [{id, partition, position, duplicate}]}',
    400: 'an invalid event (error.index names the first) or body; nothing was written',
    404: 'unknown topic',
    413: 'body larger than the limit',
    503: 'Redis is near maxmemory (capacity guard) or unreachable: retry after Retry-After',
    ...AUTH_RESPONSES,
  },
  async handler(ctx, req, reply) {
    const topic = await resolveTopic(ctx.backend.conn, ctx.backend.prefix, params(req).topic ?? '');
    const events = eventsOfBody(req.body, ctx.limits.maxBatch);
    const receipts = await ctx.backend.publishBatch(topic, events);
    reply.code(202);
    return {
      receipts: receipts.map((r) => ({
        id: r.id,
        partition: r.partition,
        position: r.position,
        duplicate: r.duplicate,
      })),
    };
  },
};

const consume: RouteSpec = {
  method: 'GET',
  url: '/v1/topics/:topic/events',
  summary:
    'Consume as a group over server-sent events; acknowledge each event with POST …/events/ack',
  tag: 'gateway',
  need: (req) => ({ kind: 'consume', group: query(req).group ?? '' }),
  query: [
    { name: 'group', description: 'consumer group', required: true },
    { name: 'consumer', description: "this consumer's name in the group (default: a new one)" },
    {
      name: 'inflight',
      description: `events delivered and not yet acknowledged, at most (default ${DEFAULT_IN_FLIGHT})`,
    },
    {
      name: 'ackTimeoutMs',
      description: `time to acknowledge before the event is retried (default ${DEFAULT_ACK_TIMEOUT_MS})`,
    },
    { name: 'from', description: "where a new group starts: 'new' (default) or 'beginning'" },
  ],
  stream: true,
  responses: {
    200: "event stream: 'event' events {token, partition, position, attempt, event}; ack with the token",
    400: 'missing group or bad parameter',
    404: 'unknown topic',
    503: 'too many open streams',
    ...AUTH_RESPONSES,
  },
  async handler(ctx, req, reply) {
    const q = query(req);
    const group = requiredGroup(req);
    const topic = await resolveTopic(ctx.backend.conn, ctx.backend.prefix, params(req).topic ?? '');
    const inflight = intQuery(q.inflight, 'inflight', DEFAULT_IN_FLIGHT, MAX_IN_FLIGHT);
    const ackTimeoutMs = intQuery(
      q.ackTimeoutMs,
      'ackTimeoutMs',
      DEFAULT_ACK_TIMEOUT_MS,
      MAX_ACK_TIMEOUT_MS,
    );
    const startFrom: StartFrom = q.from === 'beginning' ? 'beginning' : 'new';
    const control = admitStream(ctx);
    reply.hijack();
    const sse = openSse(req.raw, reply.raw);
    const signal = AbortSignal.any([sse.signal, control.signal]);
    const sub = ctx.backend.subscribe(
      topic,
      {
        group,
        ...(q.consumer ? { consumer: q.consumer } : {}),
        concurrency: inflight,
        startFrom,
      },
      async (d: Delivery) => {
        const token = `${d.delivery.partition}/${d.delivery.position}`;
        const { delivery, ...event } = d;
        const acked = ctx.acks.wait(topic.name, group, token, ackTimeoutMs, signal);
        await sse.send(
          'event',
          {
            token,
            partition: delivery.partition,
            position: delivery.position,
            attempt: delivery.attempt,
            event,
          },
          token,
        );
        await acked;
      },
    );
    void sub.ready.then(
      () => sse.send('ready', { topic: topic.name, group, consumer: sub.consumer }),
      // The subscription could not start: say why and end the stream (the client reconnects).
      async (e: unknown) => {
        await sse.send('error', { message: e instanceof Error ? e.message : String(e) });
        control.abort();
      },
    );
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    // Unacknowledged events stay pending: the group gets them again after the visibility timeout.
    await sub.close({ deadlineMs: 0 }).catch(() => undefined);
    ctx.streams.delete(control);
    sse.close();
    return undefined;
  },
};

const ack: RouteSpec = {
  method: 'POST',
  url: '/v1/topics/:topic/events/ack',
  summary: 'Acknowledge (or refuse) events received from the consume stream',
  tag: 'gateway',
  need: (req) => ({ kind: 'consume', group: query(req).group ?? '' }),
  query: [{ name: 'group', description: 'consumer group', required: true }],
  body: {
    description:
      '{ack: [token…], nack?: [token…]}: nack asks for a retry (after backoff; dead letter after the last attempt)',
    schema: {
      type: 'object',
      properties: {
        ack: { type: 'array', items: { type: 'string' } },
        nack: { type: 'array', items: { type: 'string' } },
      },
    },
  },
  responses: {
    200: '{acked, nacked, unknown}: unknown tokens were not waiting here (acked directly in Redis when possible)',
    400: 'bad body',
    404: 'unknown topic',
    ...AUTH_RESPONSES,
  },
  async handler(ctx, req) {
    const body = (req.body ?? {}) as { ack?: unknown; nack?: unknown };
    const group = requiredGroup(req);
    const list = (v: unknown, name: string): string[] => {
      if (v === undefined) return [];
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || !/^\d+\/\d+-\d+$/.test(x)))
        throw new HttpError(
          400,
          'HERALD_VALIDATION',
          `${name} must be a list of tokens such as 0/1718000000000-0`,
        );
      return v as string[];
    };
    const acks = list(body.ack, 'ack');
    const nacks = list(body.nack, 'nack');
    const topic = await resolveTopic(ctx.backend.conn, ctx.backend.prefix, params(req).topic ?? '');
    let acked = 0;
    let unknown = 0;
    const parts = allPartitionKeys(ctx.backend.prefix, topic);
    for (const token of acks) {
      if (ctx.acks.settle(topic.name, group, token)) {
        acked++;
        continue;
      }
      // Not waiting in this process (another gateway instance, or it timed out): acknowledge in Redis.
      const [partition, position] = token.split('/') as [string, string];
      const stream = parts[Number(partition)]?.stream;
      const n =
        stream === undefined
          ? 0
          : await ctx.backend.conn.send<number>(['XACK', stream, group, position], { key: stream });
      if (n > 0) acked++;
      else unknown++;
    }
    let nacked = 0;
    for (const token of nacks) {
      if (ctx.acks.settle(topic.name, group, token, new Error('refused by the HTTP consumer')))
        nacked++;
      else unknown++;
    }
    return { acked, nacked, unknown };
  },
};

const tail: RouteSpec = {
  method: 'GET',
  url: '/v1/topics/:topic/tail',
  summary: "Stream a topic's events as they arrive, without a group (nothing is acknowledged)",
  tag: 'gateway',
  need: needs.read,
  query: [{ name: 'from', description: "'now' (default), 'beginning', a position or a time" }],
  stream: true,
  responses: {
    200: "event stream: 'event' events {partition, position, event, fields, error?}",
    400: 'bad from',
    404: 'unknown topic',
    503: 'too many open streams',
    ...AUTH_RESPONSES,
  },
  async handler(ctx, req, reply) {
    const topic = await resolveTopic(ctx.backend.conn, ctx.backend.prefix, params(req).topic ?? '');
    const from = query(req).from ?? 'now';
    const target = from === 'now' ? undefined : parseStreamTarget(from);
    const parts = allPartitionKeys(ctx.backend.prefix, topic);
    const conn = await ctx.backend.conn.duplicate();
    let control: AbortController;
    try {
      control = admitStream(ctx);
    } catch (e) {
      conn.destroy();
      throw e;
    }
    reply.hijack();
    const sse = openSse(req.raw, reply.raw);
    const signal = AbortSignal.any([sse.signal, control.signal]);
    signal.addEventListener('abort', () => conn.destroy(), { once: true });
    let ids: string[];
    if (target === undefined || target.kind === 'end') {
      ids = parts.map(() => '$');
    } else {
      const first = firstIdOf(target) ?? '0-0';
      ids = parts.map(() => (first === '0-0' ? '0-0' : streamIdBefore(first)));
    }
    try {
      // '$' is resolved once per partition, so no event is missed between two reads.
      ids = await Promise.all(
        parts.map(async (p, i) => {
          if (ids[i] !== '$') return ids[i] as string;
          const last = await ctx.backend.conn.send<[string, string[]][]>(
            ['XREVRANGE', p.stream, '+', '-', 'COUNT', '1'],
            { key: p.stream },
          );
          return last[0]?.[0] ?? '0-0';
        }),
      );
      await sse.send('ready', { topic: topic.name, from });
      while (!signal.aborted) {
        const reply = await conn.send<unknown>([
          'XREAD',
          'COUNT',
          String(TAIL_COUNT),
          'BLOCK',
          String(TAIL_BLOCK_MS),
          'STREAMS',
          ...parts.map((p) => p.stream),
          ...ids,
        ]);
        for (const [stream, entries] of streamEntries(reply)) {
          const i = parts.findIndex((p) => p.stream === stream);
          for (const [position, flat] of entries) {
            ids[i] = position;
            await sse.send(
              'event',
              decodeEntry(topic, i, position, flat ?? []),
              `${i}/${position}`,
            );
          }
        }
      }
    } catch (e) {
      if (!signal.aborted)
        await sse.send('error', { message: e instanceof Error ? e.message : String(e) });
    } finally {
      ctx.streams.delete(control);
      conn.destroy();
      sse.close();
    }
    return undefined;
  },
};

type RawEntry = [string, string[] | null];

/** XREAD replies as [stream, entries] pairs (RESP3 maps or RESP2 lists). */
function streamEntries(reply: unknown): [string, RawEntry[]][] {
  if (reply === null || reply === undefined) return [];
  if (Array.isArray(reply)) return reply as [string, RawEntry[]][];
  return Object.entries(reply as Record<string, RawEntry[]>);
}

export const gatewayRoutes: readonly RouteSpec[] = [publish, consume, ack, tail];
