import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { ConfigError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { defineTopic } from '../core/topic.ts';
import { connectHerald } from '../herald.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import {
  startRedisServer,
  testRedisUrl,
  uniquePrefix,
  waitFor,
  type RedisServerHandle,
} from '../test-support/redis.ts';
import { startConsole, type RunningConsole } from './server.ts';
import { call, openSseReader } from './testing.ts';

const ADMIN = 'admin-token-0123456789';
const PUBLISHER = 'publisher-token-0123456789';
const CONSUMER = 'consumer-token-0123456789';
const READER = 'reader-token-0123456789';
const tokens = [
  { name: 'admin', token: ADMIN, rights: ['admin'] },
  { name: 'checkout', token: PUBLISHER, rights: ['publish:orders'] },
  { name: 'billing', token: CONSUMER, rights: ['consume:billing'] },
  { name: 'oncall', token: READER, rights: ['read'] },
];

void describe('HTTP gateway: every status code, with XLEN before and after', () => {
  let backend: RedisBackend;
  let server: RunningConsole;
  const orders = defineTopic({ name: 'orders' });
  const jobs = defineTopic({ name: 'jobs' });
  const xlen = (t = orders) =>
    backend.conn.send<number>(['XLEN', partitionKeys(backend.prefix, t, 0).stream]);
  const url = (path: string) => `${server.url}${path}`;

  before(async () => {
    backend = await RedisBackend.connect({
      url: testRedisUrl(),
      prefix: uniquePrefix('gateway'),
      logger: silentLogger,
    });
    await backend.publish(orders, { data: { seed: true } });
    await backend.publish(jobs, { data: { seed: true } });
    server = await startConsole({
      backend,
      port: 0,
      tokens,
      env: {},
      bodyLimitBytes: 64 * 1024,
      logger: silentLogger,
      monitor: { sampleMs: 500 },
    });
  });
  after(async () => {
    await server?.close();
    await backend?.close();
  });

  void test('202: one event, a batch, a CloudEvent; a repeated id is stored once', async () => {
    const before = await xlen();
    const one = await call(url('/v1/topics/orders/events'), {
      token: PUBLISHER,
      body: { data: { n: 1 }, type: 'order.created', id: 'ord-1' },
    });
    assert.equal(one.status, 202);
    const [r] = one.body.receipts as {
      id: string;
      partition: number;
      position: string;
      duplicate: boolean;
    }[];
    assert.equal(r?.id, 'ord-1');
    assert.equal(r?.partition, 0);
    assert.match(r?.position ?? '', /^\d+-\d+$/);
    const again = await call(url('/v1/topics/orders/events'), {
      token: PUBLISHER,
      body: [{ data: { n: 1 }, id: 'ord-1' }, { data: { n: 2 } }],
    });
    assert.equal(again.status, 202);
    assert.deepEqual(
      (again.body.receipts as { duplicate: boolean }[]).map((x) => x.duplicate),
      [true, false],
    );
    const ce = await call(url('/v1/topics/orders/events'), {
      token: PUBLISHER,
      contentType: 'application/cloudevents+json',
      body: {
        specversion: '1.0',
        id: 'ce-1',
        source: 'shop',
        type: 'order.paid',
        data: { n: 3 },
        tenant: 'acme',
      },
    });
    assert.equal(ce.status, 202);
    assert.equal(await xlen(), before + 3);
    const [stored] = await backend.conn.send<[string, string[]][]>([
      'XREVRANGE',
      partitionKeys(backend.prefix, orders, 0).stream,
      '+',
      '-',
      'COUNT',
      '1',
    ]);
    assert.match(JSON.stringify(stored), /tenant.*acme/);
  });

  void test('401 without or with a wrong token, 403 without the right: nothing written', async () => {
    const before = await xlen();
    const none = await call(url('/v1/topics/orders/events'), { body: { data: 1 } });
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.equal(
      (
        await call(url('/v1/topics/orders/events'), {
          token: 'wrong-token-0123456789',
          body: { data: 1 },
        })
      ).status,
      401,
    );
    const forbidden = await call(url('/v1/topics/orders/events'), {
      token: CONSUMER,
      body: { data: 1 },
    });
    assert.equal(forbidden.status, 403);
    assert.equal((forbidden.body.error as { code: string }).code, 'HERALD_FORBIDDEN');
    assert.equal(
      (await call(url('/v1/topics/jobs/events'), { token: PUBLISHER, body: { data: 1 } })).status,
      403,
    );
    assert.equal(
      (
        await call(url('/v1/topics/orders/groups/billing/reset'), {
          token: READER,
          body: { to: 'end' },
        })
      ).status,
      403,
    );
    assert.equal((await call(url('/v1/overview'), {})).status, 401);
    assert.equal((await call(url('/v1/overview'), { token: READER })).status, 200);
    assert.equal((await call(url('/metrics'))).status, 401);
    assert.equal((await call(url('/healthz'))).status, 200);
    assert.equal(await xlen(), before);
  });

  void test('400 names the error code and the index of the bad event; 404 for an unknown topic', async () => {
    const before = await xlen();
    const bad = await call(url('/v1/topics/orders/events'), {
      token: PUBLISHER,
      body: [{ data: 1 }, { data: 2 }, { dat: 3 }],
    });
    assert.equal(bad.status, 400);
    assert.deepEqual(
      {
        code: (bad.body.error as { code: string }).code,
        index: (bad.body.error as { index: number }).index,
      },
      { code: 'HERALD_VALIDATION', index: 2 },
    );
    const ce = await call(url('/v1/topics/orders/events'), {
      token: PUBLISHER,
      body: [{ data: 1 }, { specversion: '0.3', data: 1 }],
    });
    assert.equal((ce.body.error as { index: number }).index, 1);
    const json = await call(url('/v1/topics/orders/events'), {
      token: PUBLISHER,
      body: '{"data": ',
    });
    assert.equal(json.status, 400);
    assert.doesNotMatch(JSON.stringify(json.body), /\bat .*\.(ts|js):\d+/, 'no stack trace');
    const unknown = await call(url('/v1/topics/nope/events'), { token: ADMIN, body: { data: 1 } });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body.error as { code: string }).code, 'HERALD_NOT_FOUND');
    assert.equal(await xlen(), before);
  });

  void test('413 for a body over the limit, answered before the rest is sent', async () => {
    const before = await xlen();
    const { status, elapsedMs } = await new Promise<{ status: number; elapsedMs: number }>(
      (resolve, reject) => {
        const started = Date.now();
        const req = http.request(url('/v1/topics/orders/events'), {
          method: 'POST',
          headers: {
            authorization: `Bearer ${PUBLISHER}`,
            'content-type': 'application/json',
            'content-length': String(50 * 1024 * 1024),
          },
        });
        req.on('response', (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, elapsedMs: Date.now() - started });
          req.destroy();
        });
        req.on('error', reject);
        // Only the first 64 KiB of the announced 50 MiB are ever sent.
        req.write(`[${'{"data":1},'.repeat(6000)}`);
      },
    );
    assert.equal(status, 413);
    assert.ok(elapsedMs < 10_000, `answered in ${elapsedMs} ms without waiting for the body`);
    assert.equal(await xlen(), before);
  });

  void test('consume over SSE with explicit ack; a refused event comes back; pending ends at 0', async () => {
    const stream = await openSseReader(
      url('/v1/topics/jobs/events?group=billing&from=beginning&ackTimeoutMs=5000'),
      CONSUMER,
    );
    assert.equal(stream.status, 200);
    try {
      await stream.next('ready');
      const first = (await stream.next('event')) as {
        token: string;
        attempt: number;
        event: { data: unknown };
      };
      assert.deepEqual(first.event.data, { seed: true });
      assert.equal(first.attempt, 1);
      const nack = await call(url('/v1/topics/jobs/events/ack?group=billing'), {
        token: CONSUMER,
        body: { nack: [first.token] },
      });
      assert.deepEqual(nack.body, { acked: 0, nacked: 1, unknown: 0 });
      const again = (await stream.next('event')) as { token: string; attempt: number };
      assert.equal(again.token, first.token);
      assert.equal(again.attempt, 2);
      const ack = await call(url('/v1/topics/jobs/events/ack?group=billing'), {
        token: CONSUMER,
        body: { ack: [again.token] },
      });
      assert.deepEqual(ack.body, { acked: 1, nacked: 0, unknown: 0 });
      const published = await call(url('/v1/topics/jobs/events'), {
        token: ADMIN,
        body: { data: { n: 2 } },
      });
      const next = (await stream.next('event')) as { token: string; position: string };
      assert.equal(next.position, (published.body.receipts as { position: string }[])[0]?.position);
      await call(url('/v1/topics/jobs/events/ack?group=billing'), {
        token: CONSUMER,
        body: { ack: [next.token] },
      });
      await waitFor(async () => {
        const summary = await backend.conn.send<[number]>([
          'XPENDING',
          partitionKeys(backend.prefix, jobs, 0).stream,
          'billing',
        ]);
        return Number(summary[0]) === 0;
      });
    } finally {
      stream.close();
    }
    assert.equal(
      (await call(url('/v1/topics/jobs/events?group=audit'), { token: CONSUMER })).status,
      403,
    );
    assert.equal((await call(url('/v1/topics/jobs/events'), { token: ADMIN })).status, 400);
  });

  void test('tail streams new events without a group', async () => {
    const tail = await openSseReader(url('/v1/topics/orders/tail'), READER);
    try {
      await tail.next('ready');
      await call(url('/v1/topics/orders/events'), {
        token: PUBLISHER,
        body: { data: { tailed: true } },
      });
      const e = (await tail.next('event')) as { event: { data: unknown } };
      assert.deepEqual(e.event.data, { tailed: true });
    } finally {
      tail.close();
    }
  });

  void test('healthz, readyz, metrics with a token', async () => {
    assert.deepEqual((await call(url('/healthz'))).body, { status: 'ok' });
    assert.equal((await call(url('/readyz'))).status, 200);
    const metrics = await fetch(url('/metrics'), {
      headers: { authorization: `Bearer ${READER}` },
    });
    assert.equal(metrics.status, 200);
    assert.match(await metrics.text(), /herald_redis_up 1/);
  });

  void test('429 with Retry-After past the rate limit, per token; nothing written', async () => {
    const limited = await startConsole({
      backend,
      port: 0,
      tokens,
      env: {},
      rateLimit: { perSecond: 1, burst: 2 },
      logger: silentLogger,
    });
    try {
      const before = await xlen();
      const send = () =>
        call(`${limited.url}/v1/topics/orders/events`, { token: PUBLISHER, body: { data: 1 } });
      assert.equal((await send()).status, 202);
      assert.equal((await send()).status, 202);
      const third = await send();
      assert.equal(third.status, 429);
      assert.ok(Number(third.headers.get('retry-after')) >= 1);
      assert.equal(await xlen(), before + 2);
      // Another token has its own bucket.
      assert.equal(
        (await call(`${limited.url}/v1/topics/orders/events`, { token: ADMIN, body: { data: 1 } }))
          .status,
        202,
      );
    } finally {
      await limited.close();
    }
  });

  void test('operator endpoints: topics, dead letters (show, purge a selection, replay), group delete, queue purge', async () => {
    const failing = defineTopic({ name: 'failing' });
    await backend.publishBatch(failing, [{ data: { n: 1 } }, { data: { n: 2 } }]);
    const sub = backend.subscribe(
      failing,
      { group: 'g', startFrom: 'beginning', maxAttempts: 1 },
      () => {
        throw new Error('boom');
      },
    );
    await waitFor(async () => (await backend.deadLetters.list(failing)).length === 2);
    await sub.close();
    const admin = (path: string, body?: unknown, method?: string) =>
      call(url(path), {
        token: ADMIN,
        ...(body !== undefined ? { body } : {}),
        ...(method ? { method } : {}),
      });
    const topics = (await admin('/v1/topics')).body.topics as { name: string }[];
    assert.ok(topics.some((t) => t.name === 'failing'));
    const list = (await admin('/v1/topics/failing/dead-letters')).body.deadLetters as {
      partition: number;
      position: string;
      error: string;
    }[];
    assert.equal(list.length, 2);
    const one = await admin(
      `/v1/topics/failing/dead-letters/${list[0]?.partition}/${list[0]?.position}`,
    );
    assert.equal(one.status, 200);
    assert.match(String(one.body.error), /boom/);
    assert.equal((await admin('/v1/topics/failing/dead-letters/0/1-1')).status, 404);
    const purged = await admin('/v1/topics/failing/dead-letters/purge', {
      refs: [{ partition: 0, position: list[0]?.position }],
    });
    assert.deepEqual(purged.body, { purged: 1 });
    assert.equal(
      (
        await call(url('/v1/topics/failing/dead-letters/replay'), {
          token: READER,
          body: { all: true },
        })
      ).status,
      403,
    );
    const replayed = await admin('/v1/topics/failing/dead-letters/replay', { all: true });
    assert.deepEqual(replayed.body, { replayed: 1, interrupted: false });
    assert.equal(await xlen(failing), 3);
    assert.equal((await admin('/v1/topics/failing/groups/g', undefined, 'DELETE')).status, 200);
    assert.equal((await admin('/v1/topics/failing/groups/g')).status, 404);

    const q = backend.queue('faxes');
    await q.push([{ page: 1 }, { page: 2 }]);
    const w = q.work(
      () => {
        throw new Error('no line');
      },
      { maxAttempts: 1, blockMs: 100 },
    );
    await waitFor(async () => (await q.counts()).dead === 2);
    await w.close();
    const items = (await admin('/v1/queues/faxes/dead')).body.items as { id: string }[];
    assert.equal(items.length, 2);
    assert.deepEqual((await admin('/v1/queues/faxes/dead/purge', { ids: [items[0]?.id] })).body, {
      purged: 1,
    });
    assert.deepEqual((await admin('/v1/queues/faxes/dead/retry', { all: true })).body, {
      retried: 1,
    });
    assert.deepEqual(await q.counts(), { pending: 1, processing: 0, dead: 0 });
  });

  void test('refuses to start beyond loopback without tokens', async () => {
    await assert.rejects(
      startConsole({ backend, host: '0.0.0.0', port: 0, env: {}, logger: silentLogger }),
      ConfigError,
    );
  });
});

void describe('HTTP gateway: 503 when the capacity guard refuses', () => {
  let redis: RedisServerHandle;
  let server: RunningConsole;
  let guarded: RedisBackend;

  before(async () => {
    redis = await startRedisServer({ appendonly: false });
    const seed = await RedisBackend.connect({ url: redis.url, logger: silentLogger });
    await seed.publish(defineTopic({ name: 'orders' }), { data: 1 });
    const used = Number(
      /used_memory:(\d+)/.exec(String(await seed.conn.send(['INFO', 'memory'])))?.[1],
    );
    // Just above what is used: Redis still accepts writes, Herald's guard (90%) refuses.
    await seed.conn.send(['CONFIG', 'SET', 'maxmemory', String(Math.ceil(used * 1.05))]);
    await seed.close();
    guarded = await connectHerald({ url: redis.url, logger: silentLogger });
    server = await startConsole({ backend: guarded, port: 0, env: {}, logger: silentLogger });
  });
  after(async () => {
    await server?.close();
    await guarded?.close();
    await redis?.stop();
  });

  void test('publish gets 503 with Retry-After, nothing written; readyz is 503', async () => {
    const seed = await RedisBackend.connect({ url: redis.url, logger: silentLogger });
    try {
      const stream = partitionKeys(seed.prefix, defineTopic({ name: 'orders' }), 0).stream;
      const before = await seed.conn.send<number>(['XLEN', stream]);
      const r = await call(`${server.url}/v1/topics/orders/events`, { body: { data: 2 } });
      assert.equal(r.status, 503);
      assert.equal((r.body.error as { code: string }).code, 'HERALD_CAPACITY');
      assert.ok(Number(r.headers.get('retry-after')) > 0);
      assert.equal(await seed.conn.send<number>(['XLEN', stream]), before);
      const ready = await call(`${server.url}/readyz`);
      assert.equal(ready.status, 503);
      assert.equal(ready.body.reason, 'capacity');
    } finally {
      await seed.close();
    }
  });
});
