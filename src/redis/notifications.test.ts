import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import type { Notification, NotifierStatus } from '../core/notifications.ts';
import {
  startRedisServer,
  testRedisUrl,
  uniquePrefix,
  waitFor,
  type RedisServerHandle,
} from '../test-support/redis.ts';
import { connect, type RedisConnection } from './connection.ts';
import { RedisNotifier } from './notifications.ts';

function collect(statuses: AsyncIterable<NotifierStatus>): NotifierStatus[] {
  const seen: NotifierStatus[] = [];
  void (async () => {
    for await (const s of statuses) seen.push(s);
  })();
  return seen;
}

void describe('RedisNotifier (at-most-once pub/sub)', () => {
  let conn: RedisConnection;
  const notifiers: RedisNotifier[] = [];

  function notifier(options?: ConstructorParameters<typeof RedisNotifier>[2]): RedisNotifier {
    const n = new RedisNotifier(conn, uniquePrefix('notify'), options);
    notifiers.push(n);
    return n;
  }

  before(async () => {
    conn = await connect({ url: testRedisUrl() });
  });

  after(async () => {
    await Promise.all(notifiers.map((n) => n.close()));
    await conn.close();
  });

  void test('a live listener on a channel receives data, type and time', async () => {
    const n = notifier();
    const got: Notification[] = [];
    await n.listen('orders', (m) => void got.push(m));
    const receivers = await n.notify('orders', { id: 7, tags: [] }, { type: 'order.created' });
    assert.equal(receivers, 1);
    await waitFor(() => got.length === 1, { message: 'notification not received' });
    const [m] = got;
    assert.equal(m?.channel, 'orders');
    assert.equal(m?.type, 'order.created');
    assert.deepEqual(m?.data, { id: 7, tags: [] });
    assert.equal(m?.pattern, undefined);
    assert.ok(m && !Number.isNaN(Date.parse(m.time)), 'time is RFC 3339');
  });

  void test('a pattern listener receives matching channels only, with channel and pattern', async () => {
    const n = notifier();
    const got: Notification[] = [];
    await n.listen({ pattern: 'user.*' }, (m) => void got.push(m));
    await n.notify('account.1', 'not me');
    await n.notify('user.42', 'hello');
    // One connection delivers in order: once user.42 is here, account.1 would have been too.
    await waitFor(() => got.length >= 1, { message: 'pattern notification not received' });
    assert.deepEqual(
      got.map((m) => [m.channel, m.pattern, m.data]),
      [['user.42', 'user.*', 'hello']],
    );
  });

  void test('a listener that is not connected misses what is sent meanwhile (at-most-once)', async () => {
    const n = notifier();
    const got: unknown[] = [];
    const first = await n.listen('news', (m) => void got.push(m.data));
    await first.close();
    assert.equal(await n.notify('news', 'while nobody listens'), 0, 'nobody received it');
    await n.listen('news', (m) => void got.push(m.data));
    await n.notify('news', 'after listening again');
    await waitFor(() => got.length >= 1, { message: 'second notification not received' });
    assert.deepEqual(got, ['after listening again']);
  });

  void test('closing one listener leaves the others on the same channel', async () => {
    const n = notifier();
    const a: unknown[] = [];
    const b: unknown[] = [];
    const la = await n.listen('shared', (m) => void a.push(m.data));
    await n.listen('shared', (m) => void b.push(m.data));
    await la.close();
    await n.notify('shared', 1);
    await waitFor(() => b.length === 1, { message: 'remaining listener got nothing' });
    assert.deepEqual(a, []);
  });

  void test('foreign PUBLISH from a raw client arrives with data = the raw string', async () => {
    const prefix = uniquePrefix('notify');
    const n = new RedisNotifier(conn, prefix);
    notifiers.push(n);
    const got: Notification[] = [];
    await n.listen('x', (m) => void got.push(m));
    const foreign = createClient({ url: testRedisUrl() });
    await foreign.connect();
    try {
      await foreign.publish(`${prefix}:n:x`, 'hello');
      await foreign.publish(`${prefix}:n:x`, '{"not":"an envelope"}');
    } finally {
      await foreign.close();
    }
    await waitFor(() => got.length === 2, { message: 'foreign messages not received' });
    assert.deepEqual(
      got.map((m) => [m.channel, m.data]),
      [
        ['x', 'hello'],
        ['x', '{"not":"an envelope"}'],
      ],
    );
    assert.ok(got.every((m) => typeof m.time === 'string' && m.type === undefined));
  });

  void test('handler errors are reported, not thrown, and later notifications still arrive', async () => {
    const reported: string[] = [];
    const n = notifier({ onError: (e, channel) => reported.push(`${channel}: ${e.message}`) });
    const statuses = collect(n.status());
    const got: unknown[] = [];
    await n.listen('boom', (m) => {
      if (m.data === 'sync') throw new Error('sync failure');
      if (m.data === 'async') return Promise.reject(new Error('async failure'));
      got.push(m.data);
    });
    await n.notify('boom', 'sync');
    await n.notify('boom', 'async');
    await n.notify('boom', 'fine');
    await waitFor(() => got.length === 1 && reported.length === 2, {
      message: 'errors not reported',
    });
    assert.deepEqual(got, ['fine']);
    assert.deepEqual(reported.sort(), ['boom: async failure', 'boom: sync failure']);
    await waitFor(() => statuses.filter((s) => s.type === 'handler-error').length === 2);
  });

  void test('notify after close rejects with ClosedError; bad messages with ValidationError', async () => {
    const n = notifier();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await assert.rejects(n.notify('c', circular), { code: 'HERALD_VALIDATION' });
    await assert.rejects(n.notify('', 1), { code: 'HERALD_CONFIG' });
    await n.close();
    await assert.rejects(n.notify('c', 1), { code: 'HERALD_CLOSED' });
    await assert.rejects(
      n.listen('c', () => {}),
      { code: 'HERALD_CLOSED' },
    );
  });
});

void describe('RedisNotifier across a Redis restart', () => {
  let server: RedisServerHandle;
  let conn: RedisConnection;
  let n: RedisNotifier;

  before(async () => {
    server = await startRedisServer({ appendonly: false });
    conn = await connect({ url: server.url });
    n = new RedisNotifier(conn, uniquePrefix('notify-restart'));
  });

  after(async () => {
    await n?.close();
    await conn?.close();
    await server?.stop();
  });

  void test('listening resumes after the server restarts', async () => {
    const statuses = collect(n.status());
    const got: unknown[] = [];
    await n.listen('resume', (m) => void got.push(m.data));
    await n.listen({ pattern: 'resume.*' }, (m) => void got.push(`pattern:${String(m.data)}`));
    await n.notify('resume', 'before');
    await waitFor(() => got.includes('before'), { message: 'no notification before the restart' });

    await server.restart();

    // Sent until one arrives: what is sent before the subscription is renewed is lost (at-most-once).
    let sent = 0;
    await waitFor(
      async () => {
        sent++;
        await n.notify('resume', `after-${sent}`);
        await n.notify('resume.x', `after-${sent}`);
        return (
          got.some((d) => String(d).startsWith('after-')) &&
          got.some((d) => String(d).startsWith('pattern:after-'))
        );
      },
      { timeoutMs: 30_000, intervalMs: 50, message: 'no notification arrived after the restart' },
    );
    await waitFor(() => statuses.some((s) => s.type === 'reconnected'), {
      message: 'no reconnected status',
    });
    assert.ok(
      statuses.some((s) => s.type === 'disconnected'),
      'a disconnected status was reported',
    );
  });
});
