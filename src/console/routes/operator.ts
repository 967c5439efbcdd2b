/** Operator endpoints: overview (once or live), topics, browsing, groups (reset, delete). */
import { browseEvents, pendingEvents } from '../../ops/browse.ts';
import { deleteGroup, previewGroupReset, resetGroup } from '../../ops/group-admin.ts';
import { groupStats, listTopics, resolveTopic } from '../../ops/inspect.ts';
import { parseStreamTarget } from '../../ops/stream-ids.ts';
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

const DEFAULT_BROWSE = 50;
const PENDING_SHOWN = 100;

function topicOf(ctx: ConsoleContext, name: string | undefined) {
  return resolveTopic(ctx.backend.conn, ctx.backend.prefix, name ?? '');
}

function wholeNumber(value: string | undefined, name: string, def: number, max: number): number {
  if (value === undefined || value === '') return def;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new HttpError(
      400,
      'HERALD_VALIDATION',
      `${name} must be a whole number from 0 to ${max}`,
    );
  return n;
}

const overview: RouteSpec = {
  method: 'GET',
  url: '/v1/overview',
  summary:
    'Topics (rates, length, memory, dead letters), groups (lag, pending, stalled), queues, Redis health',
  tag: 'operator',
  need: needs.read,
  responses: { 200: 'the last sample', ...AUTH_RESPONSES },
  handler: (ctx) => ctx.monitor.overview(),
};

const live: RouteSpec = {
  method: 'GET',
  url: '/v1/live',
  summary: "The overview as server-sent events: an 'overview' event per sample",
  tag: 'operator',
  need: needs.read,
  stream: true,
  responses: { 200: "event stream of 'overview' events", ...AUTH_RESPONSES },
  async handler(ctx, req, reply) {
    reply.hijack();
    const sse = openSse(req.raw, reply.raw);
    const control = new AbortController();
    ctx.streams.add(control);
    const unsubscribe = ctx.monitor.subscribe((o) => void sse.send('overview', o));
    await sse.send('overview', await ctx.monitor.overview());
    await new Promise<void>((resolve) => {
      const signal = AbortSignal.any([sse.signal, control.signal]);
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    unsubscribe();
    ctx.streams.delete(control);
    sse.close();
    return undefined;
  },
};

const topics: RouteSpec = {
  method: 'GET',
  url: '/v1/topics',
  summary: 'Every topic with partitions, length, memory, dead letters and groups',
  tag: 'operator',
  need: needs.read,
  responses: { 200: '{topics: […]}', ...AUTH_RESPONSES },
  handler: async (ctx) => ({ topics: await listTopics(ctx.backend.conn, ctx.backend.prefix) }),
};

const topic: RouteSpec = {
  method: 'GET',
  url: '/v1/topics/:topic',
  summary: 'One topic: partitions and groups',
  tag: 'operator',
  need: needs.read,
  responses: { 200: '{topic, groups}', 404: 'unknown topic', ...AUTH_RESPONSES },
  async handler(ctx, req) {
    const t = await topicOf(ctx, params(req).topic);
    const [info, groups] = await Promise.all([
      listTopics(ctx.backend.conn, ctx.backend.prefix),
      groupStats(ctx.backend.conn, ctx.backend.prefix, t),
    ]);
    const view = await ctx.monitor.overview();
    return {
      topic: info.find((x) => x.name === t.name),
      rates: view.topics.find((x) => x.name === t.name) ?? null,
      groups,
    };
  },
};

const browse: RouteSpec = {
  method: 'GET',
  url: '/v1/topics/:topic/browse',
  summary:
    'Events of one partition from a position or time: decoded envelope, headers, data, raw fields',
  tag: 'operator',
  need: needs.read,
  query: [
    { name: 'partition', description: 'partition (default 0)' },
    {
      name: 'from',
      description: "'beginning', 'end' (the last events; default), a position or a time",
    },
    { name: 'limit', description: `events, at most (default ${DEFAULT_BROWSE})` },
  ],
  responses: {
    200: '{events: […]}',
    400: 'bad parameter',
    404: 'unknown topic or partition',
    ...AUTH_RESPONSES,
  },
  async handler(ctx, req) {
    const q = query(req);
    const t = await topicOf(ctx, params(req).topic);
    const partition = wholeNumber(q.partition, 'partition', 0, t.partitions - 1);
    const limit = Math.max(1, wholeNumber(q.limit, 'limit', DEFAULT_BROWSE, ctx.limits.maxBrowse));
    const events = await browseEvents(
      ctx.backend.conn,
      ctx.backend.prefix,
      t,
      partition,
      parseStreamTarget(q.from ?? 'end'),
      limit,
    );
    return { topic: t.name, partition, events };
  },
};

const group: RouteSpec = {
  method: 'GET',
  url: '/v1/topics/:topic/groups/:group',
  summary: 'One group: consumers (idle, held), pending events (idle, deliveries), lag history',
  tag: 'operator',
  need: needs.read,
  responses: {
    200: '{group, pending, lagHistory, stalled}',
    404: 'unknown topic or group',
    ...AUTH_RESPONSES,
  },
  async handler(ctx, req) {
    const p = params(req);
    const t = await topicOf(ctx, p.topic);
    const all = await groupStats(ctx.backend.conn, ctx.backend.prefix, t);
    const g = all.find((x) => x.group === p.group);
    if (!g)
      throw new HttpError(
        404,
        'HERALD_NOT_FOUND',
        `topic '${t.name}' has no consumer group '${p.group}'`,
      );
    const [pending, view] = await Promise.all([
      pendingEvents(ctx.backend.conn, ctx.backend.prefix, t, g.group, PENDING_SHOWN),
      ctx.monitor.overview(),
    ]);
    const live = view.groups.find((x) => x.topic === t.name && x.group === g.group);
    return {
      group: g,
      pending,
      lagHistory: ctx.monitor.lagHistory(t.name, g.group),
      stalled: live?.stalled ?? false,
      stuckSeconds: live?.stuckSeconds ?? 0,
      outPerSecond: live?.outPerSecond ?? null,
    };
  },
};

const reset: RouteSpec = {
  method: 'POST',
  url: '/v1/topics/:topic/groups/:group/reset',
  summary:
    'Reset a group to a position or time; dryRun previews how many events it replays or skips',
  tag: 'operator',
  need: needs.admin,
  body: {
    description: "{to: 'beginning'|'end'|position|time, partition?, dryRun?}",
    schema: {
      type: 'object',
      required: ['to'],
      properties: {
        to: { type: 'string' },
        partition: { type: 'integer' },
        dryRun: { type: 'boolean' },
      },
    },
  },
  responses: {
    200: '{plan, applied}',
    400: 'bad target',
    404: 'unknown topic, group or partition',
    ...AUTH_RESPONSES,
  },
  async handler(ctx, req) {
    const p = params(req);
    const body = (req.body ?? {}) as { to?: unknown; partition?: unknown; dryRun?: unknown };
    if (typeof body.to !== 'string')
      throw new HttpError(400, 'HERALD_VALIDATION', 'to is required');
    const target = parseStreamTarget(body.to);
    const t = await topicOf(ctx, p.topic);
    const options = typeof body.partition === 'number' ? { partition: body.partition } : {};
    const run = body.dryRun === true ? previewGroupReset : resetGroup;
    const plan = await run(ctx.backend.conn, ctx.backend.prefix, t, p.group ?? '', target, options);
    if (body.dryRun !== true) void ctx.monitor.sample();
    return { plan, applied: body.dryRun !== true };
  },
};

const removeGroup: RouteSpec = {
  method: 'DELETE',
  url: '/v1/topics/:topic/groups/:group',
  summary: 'Delete a group from every partition (its pending events are forgotten; events stay)',
  tag: 'operator',
  need: needs.admin,
  responses: {
    200: '{topic, group, partitions, pendingDropped}',
    404: 'unknown topic or group',
    ...AUTH_RESPONSES,
  },
  async handler(ctx, req) {
    const p = params(req);
    const t = await topicOf(ctx, p.topic);
    const done = await deleteGroup(ctx.backend.conn, ctx.backend.prefix, t, p.group ?? '');
    void ctx.monitor.sample();
    return done;
  },
};

export const operatorRoutes: readonly RouteSpec[] = [
  overview,
  live,
  topics,
  topic,
  browse,
  group,
  reset,
  removeGroup,
];
