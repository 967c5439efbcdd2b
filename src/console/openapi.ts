/** The OpenAPI 3.1 document of the console's endpoints, generated from the route specs. */
import type { RouteSpec } from './route.ts';

/** `/v1/topics/:topic` → `/v1/topics/{topic}`. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

const ERROR_SCHEMA = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        index: { type: 'integer', description: 'index of the first invalid event' },
      },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
};

export function openApiDocument(routes: readonly RouteSpec[], version: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = openApiPath(r.url);
    const pathParams = [...r.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const queryParams = (r.query ?? []).map((q) => ({
      name: q.name,
      in: 'query',
      required: q.required ?? false,
      description: q.description,
      schema: q.schema ?? { type: 'string' },
    }));
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(r.responses)) {
      const ok = Number(status) < 300;
      const type = ok
        ? r.stream
          ? 'text/event-stream'
          : (r.produces ?? 'application/json')
        : 'application/json';
      responses[status] = {
        description,
        content: {
          [type]: {
            schema: ok
              ? type === 'application/json'
                ? { type: 'object' }
                : { type: 'string' }
              : ERROR_SCHEMA,
          },
        },
      };
    }
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      operationId: `${r.method.toLowerCase()}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ?? '').toUpperCase())}`,
      parameters: [...pathParams, ...queryParams],
      ...(r.body
        ? {
            requestBody: {
              required: true,
              description: r.body.description,
              content: { 'application/json': { schema: r.body.schema } },
            },
          }
        : {}),
      responses,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Herald console and HTTP gateway',
      version,
      description:
        'Publish and consume Herald topics over HTTP, and operate them. See docs/console.md.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
