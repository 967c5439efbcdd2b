import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../core/logger.ts';
import { RedisBackend } from '../redis/backend.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { openApiPath } from './openapi.ts';
import { startConsole, type RunningConsole } from './server.ts';

interface Doc {
  openapi: string;
  paths: Record<
    string,
    Record<string, { operationId: string; responses: Record<string, unknown> }>
  >;
}

void describe('OpenAPI document against the routes the server has', () => {
  let backend: RedisBackend;
  let server: RunningConsole;
  let doc: Doc;

  before(async () => {
    backend = await RedisBackend.connect({
      url: testRedisUrl(),
      prefix: uniquePrefix('openapi'),
      logger: silentLogger,
    });
    server = await startConsole({ backend, port: 0, env: {}, logger: silentLogger });
    doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as Doc;
  });
  after(async () => {
    await server?.close();
    await backend?.close();
  });

  void test('every registered route is documented and every documented operation is served', () => {
    assert.equal(doc.openapi, '3.1.0');
    const served = server.registered.map((r) => `${r.method} ${openApiPath(r.url)}`).sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    assert.deepEqual(documented, served);
    assert.ok(served.length >= 25, `${served.length} routes`);
  });

  void test('operations have unique ids and document their error statuses', () => {
    const ops = Object.values(doc.paths).flatMap((o) => Object.values(o));
    const ids = ops.map((o) => o.operationId);
    assert.equal(new Set(ids).size, ids.length);
    const publish = doc.paths['/v1/topics/{topic}/events']?.post;
    assert.deepEqual(Object.keys(publish?.responses ?? {}).sort(), [
      '202',
      '400',
      '401',
      '403',
      '404',
      '413',
      '429',
      '503',
    ]);
  });
});
