/** Dead letters (list, show, replay with progress, purge) and work queues (counts, dead items, retry, purge). */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DeadLetter, DeadLetterFilter } from '../../core/contract.ts';
import { resolveTopic } from '../../ops/inspect.ts';
import {
  purgeDeadLetters,
  readDeadLetters,
  replayDeadLetters,
  type DeadLetterRef,
} from '../../ops/dead-letter-admin.ts';
import {
  listDeadItems,
  listQueues,
  purgeDeadItems,
  retryDeadItems,
} from '../../ops/queue-admin.ts';
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
import { inspectData } from '../../core/codec.ts';

const DEFAULT_LIST = 100;
const MAX_LIST = 10_000;

/** Thrown from a progress callback when the client went away: stops between two atomic moves. */
class Interrupted extends Error {}

function filterOf(req: FastifyRequest): DeadLetterFilter {
  const q = query(req);
  const limit = q.limit === undefined ? DEFAULT_LIST : Number(q.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST)
    throw new HttpError(
      400,
      'HERALD_VALIDATION',
      `limit must be a whole number from 1 to ${MAX_LIST}`,
    );
  if (q.reason !== undefined && q.reason !== 'handler-failed' && q.reason !== 'undecodable')
    throw new HttpError(400, 'HERALD_VALIDATION', 'reason must be handler-failed or undecodable');
  return {
    limit,
    ...(q.group ? { group: q.group } : {}),
    ...(q.reason ? { reason: q.reason } : {}),
  };
}

function withData(d: DeadLetter): DeadLetter & { data: unknown } {
  return { ...d, data: inspectData(d.fields) };
}

/** `{refs: [{partition, position}]}` or `{all: true, group?, reason?}`. */
function selection(body: unknown): { refs?: DeadLetterRef[]; filter?: DeadLetterFilter } {
  const b = (body ?? {}) as { refs?: unknown; all?: unknown; group?: unknown; reason?: unknown };
  if (b.all === true) {
    return {
      filter: {
        ...(typeof b.group === 'string' ? { group: b.group } : {}),
        ...(b.reason === 'handler-failed' || b.reason === 'undecodable'
          ? { reason: b.reason }
          : {}),
      },
    };
  }
  if (
    !Array.isArray(b.refs) ||
    b.refs.length === 0 ||
    b.refs.some(
      (r: unknown) =>
        typeof (r as DeadLetterRef | null)?.position !== 'string' ||
        !Number.isInteger((r as DeadLetterRef).partition),
    )
  )
    throw new HttpError(
      400,
      'HERALD_VALIDATION',
      'give refs: [{partition, position}…] or all: true',
    );
  return { refs: b.refs as DeadLetterRef[] };
}

const SELECTION_SCHEMA = {
  type: 'object',
  properties: {
    refs: {
      type: 'array',
      items: {
        type: 'object',
        properties: { partition: { type: 'integer' }, position: { type: 'string' } },
      },
    },
    all: { type: 'boolean' },
    group: { type: 'string' },
    reason: { type: 'string', enum: ['handler-failed', 'undecodable'] },
  },
};

const list: RouteSpec = {
  method: 'GET',
  url: '/v1/topics/:topic/dead-letters',
  summary:
    "A topic's dead letters, oldest first: reason, error, attempts, group, original position",
  tag: 'operator',
  need: needs.read,
  query: [
    { name: 'group', description: 'only this group' },
    { name: 'reason', description: 'handler-failed or undecodable' },
    { name: 'limit', description: `at most (default ${DEFAULT_LIST})` },
  ],
  responses: {
    200: '{deadLetters: […]}',
    400: 'bad parameter',
    404: 'unknown topic',
    ...AUTH_RESPONSES,
  },
  async handler(ctx, req) {
    const t = await resolveTopic(ctx.backend.conn, ctx.backend.prefix, params(req).topic ?? '');
    const letters = await ctx.backend.deadLetters.list(t, filterOf(req));
    return { topic: t.name, deadLetters: letters.map(withData) };
  },
};

const show: RouteSpec = {
  method: 'GET',
  url: '/v1/topics/:topic/dead-letters/:partition/:position',
  summary: 'One dead letter in full: fields, error, payload',
  tag: 'operator',
  need: needs.read,
  responses: { 200: 'the dead letter', 404: 'unknown topic or dead letter', ...AUTH_RESPONSES },
  async handler(ctx, req) {
    const p = params(req);
    const t = await resolveTopic(ctx.backend.conn, ctx.backend.prefix, p.topic ?? '');
    const [d] = await readDeadLetters(ctx.backend.conn, ctx.backend.prefix, t, [
      { partition: Number(p.partition), position: p.position ?? '' },
    ]);
    if (!d)
      throw new HttpError(
        404,
        'HERALD_NOT_FOUND',
        `no dead letter ${p.partition}/${p.position} in '${t.name}'`,
      );
    return withData(d);
  },
};

/** Runs a replay, answering with progress events when the client asks for text/event-stream. */
async function replayWithProgress(
  ctx: ConsoleContext,
  req: FastifyRequest,
  reply: FastifyReply,
  run: (onProgress: (done: number, total: number) => void) => Promise<number>,
): Promise<unknown> {
  if (!(req.headers.accept ?? '').includes('text/event-stream')) {
    const replayed = await run(() => undefined);
    void ctx.monitor.sample();
    return { replayed, interrupted: false };
  }
  reply.hijack();
  const sse = openSse(req.raw, reply.raw);
  let done = 0;
  let total = 0;
  let interrupted = false;
  try {
    await run((d, t) => {
      done = d;
      total = t;
      void sse.send('progress', { done, total });
      if (sse.signal.aborted) throw new Interrupted();
    });
  } catch (e) {
    if (!(e instanceof Interrupted)) {
      await sse.send('error', { message: e instanceof Error ? e.message : String(e) });
      sse.close();
      return undefined;
    }
    interrupted = true;
  }
  void ctx.monitor.sample();
  await sse.send('done', { replayed: done, total, interrupted });
  sse.close();
  return undefined;
}

const replay: RouteSpec = {
  method: 'POST',
  url: '/v1/topics/:topic/dead-letters/replay',
  summary:
    'Replay dead letters (a selection or all), one atomic move each; progress as SSE when asked; safe to interrupt',
  tag: 'operator',
  need: needs.admin,
  body: {
    description: '{refs: [{partition, position}…]} or {all: true, group?, reason?}',
    schema: SELECTION_SCHEMA,
  },
  responses: {
    200: "{replayed}; with Accept: text/event-stream, 'progress' events then 'done'",
    400: 'bad selection',
    404: 'unknown topic',
    ...AUTH_RESPONSES,
  },
  async handler(ctx, req, reply) {
    const t = await resolveTopic(ctx.backend.conn, ctx.backend.prefix, params(req).topic ?? '');
    const sel = selection(req.body);
    return replayWithProgress(ctx, req, reply, (onProgress) =>
      sel.refs
        ? replayDeadLetters(ctx.backend.conn, ctx.backend.prefix, t, sel.refs, onProgress)
        : ctx.backend.deadLetters.replay(t, { ...sel.filter, onProgress }),
    );
  },
};

const purge: RouteSpec = {
  method: 'POST',
  url: '/v1/topics/:topic/dead-letters/purge',
  summary: 'Delete dead letters for good (a selection or all)',
  tag: 'operator',
  need: needs.admin,
  body: {
    description: '{refs: [{partition, position}…]} or {all: true, group?, reason?}',
    schema: SELECTION_SCHEMA,
  },
  responses: { 200: '{purged}', 400: 'bad selection', 404: 'unknown topic', ...AUTH_RESPONSES },
  async handler(ctx, req) {
    const t = await resolveTopic(ctx.backend.conn, ctx.backend.prefix, params(req).topic ?? '');
    const sel = selection(req.body);
    const purged = sel.refs
      ? await purgeDeadLetters(ctx.backend.conn, ctx.backend.prefix, t, sel.refs)
      : await ctx.backend.deadLetters.purge(t, sel.filter);
    void ctx.monitor.sample();
    return { purged };
  },
};

const queues: RouteSpec = {
  method: 'GET',
  url: '/v1/queues',
  summary: 'Every work queue with pending, processing and dead counts',
  tag: 'operator',
  need: needs.read,
  responses: { 200: '{queues: […]}', ...AUTH_RESPONSES },
  handler: async (ctx) => ({ queues: await listQueues(ctx.backend.conn, ctx.backend.prefix) }),
};

const deadItems: RouteSpec = {
  method: 'GET',
  url: '/v1/queues/:queue/dead',
  summary: "A queue's dead items, oldest first",
  tag: 'operator',
  need: needs.read,
  query: [{ name: 'limit', description: `at most (default ${DEFAULT_LIST})` }],
  responses: { 200: '{items: […]}', 400: 'bad parameter', ...AUTH_RESPONSES },
  async handler(ctx, req) {
    const limit = Number(query(req).limit ?? DEFAULT_LIST);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST)
      throw new HttpError(
        400,
        'HERALD_VALIDATION',
        `limit must be a whole number from 1 to ${MAX_LIST}`,
      );
    return {
      items: await listDeadItems(
        ctx.backend.conn,
        ctx.backend.prefix,
        params(req).queue ?? '',
        limit,
      ),
    };
  },
};

function idsOf(body: unknown): { ids?: string[] } {
  const b = (body ?? {}) as { ids?: unknown; all?: unknown };
  if (b.all === true) return {};
  if (!Array.isArray(b.ids) || b.ids.length === 0 || b.ids.some((x) => typeof x !== 'string'))
    throw new HttpError(400, 'HERALD_VALIDATION', 'give ids: [id…] or all: true');
  return { ids: b.ids as string[] };
}

const IDS_SCHEMA = {
  type: 'object',
  properties: { ids: { type: 'array', items: { type: 'string' } }, all: { type: 'boolean' } },
};

const retryItems: RouteSpec = {
  method: 'POST',
  url: '/v1/queues/:queue/dead/retry',
  summary: 'Put dead items back on the queue with their attempts reset',
  tag: 'operator',
  need: needs.admin,
  body: { description: '{ids: [id…]} or {all: true}', schema: IDS_SCHEMA },
  responses: { 200: '{retried}', 400: 'bad selection', ...AUTH_RESPONSES },
  async handler(ctx, req) {
    const retried = await retryDeadItems(
      ctx.backend.conn,
      ctx.backend.prefix,
      params(req).queue ?? '',
      idsOf(req.body),
    );
    void ctx.monitor.sample();
    return { retried };
  },
};

const purgeItems: RouteSpec = {
  method: 'POST',
  url: '/v1/queues/:queue/dead/purge',
  summary: 'Delete dead items for good',
  tag: 'operator',
  need: needs.admin,
  body: { description: '{ids: [id…]} or {all: true}', schema: IDS_SCHEMA },
  responses: { 200: '{purged}', 400: 'bad selection', ...AUTH_RESPONSES },
  async handler(ctx, req) {
    const purged = await purgeDeadItems(
      ctx.backend.conn,
      ctx.backend.prefix,
      params(req).queue ?? '',
      idsOf(req.body),
    );
    void ctx.monitor.sample();
    return { purged };
  },
};

export const deadLetterRoutes: readonly RouteSpec[] = [list, show, replay, purge];
export const queueRoutes: readonly RouteSpec[] = [queues, deadItems, retryItems, purgeItems];
