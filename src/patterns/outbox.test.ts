import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { Outbox } from './outbox.ts';
import { storedEnvelope } from '../test-support/envelope.ts';

describe('Outbox', () => {
  let backend: RedisBackend;
  let prefix: string;
  const topic = defineTopic({ name: 'announcements' });
  const other = defineTopic({ name: 'other' });
  const stream = () => `${prefix}:{announcements:0}:stream`;

  before(async () => {
    prefix = uniquePrefix('outbox');
    backend = await RedisBackend.connect({ url: testRedisUrl(), prefix });
  });
  after(async () => {
    await backend.close();
  });

  const make = (key: string) =>
    new Outbox({ conn: backend.conn, publisher: backend, key, topics: [topic, other] });

  test('publishes staged events (all, or only the given ids) and removes them', async () => {
    const outbox = make(`${prefix}:ob1`);
    await backend.conn.send(
      outbox.stage({ topic: 'announcements', id: 'a', type: 'A', key: 'k', data: { x: 1 } }),
    );
    await backend.conn.send(outbox.stage({ topic: 'announcements', id: 'b', data: { x: 2 } }));
    assert.equal(await outbox.pending(), 2);
    assert.equal(await outbox.flush(['b', 'missing']), 1);
    assert.equal(await outbox.pending(), 1);
    assert.equal(await outbox.flush(), 1);
    assert.equal(await outbox.pending(), 0);
    const entries = await backend.conn.send<[string, string[]][]>(['XRANGE', stream(), '-', '+']);
    const byId = new Map(entries.map(([, f]) => [f[f.indexOf('id') + 1], f]));
    assert.deepEqual([...byId.keys()].sort(), ['a', 'b']);
    const a = storedEnvelope(byId.get('a') as string[]);
    assert.equal(a.type, 'A');
    assert.equal(a.data, '{"x":1}');
  });

  test('flushes racing on the same entries store each event once', async () => {
    const outbox = make(`${prefix}:ob2`);
    const before = await backend.conn.send<number>(['XLEN', stream()]);
    for (let i = 0; i < 20; i++) {
      await backend.conn.send(
        outbox.stage({ topic: 'announcements', id: `race-${i}`, data: { i } }),
      );
    }
    await Promise.all([outbox.flush(), outbox.flush(), make(`${prefix}:ob2`).flush()]);
    assert.equal(Number(await backend.conn.send(['XLEN', stream()])) - Number(before), 20);
    assert.equal(await outbox.pending(), 0);
  });

  test('a service that crashed after staging publishes on its next start', async () => {
    const key = `${prefix}:ob3`;
    // The "crashed" process staged an event and never published it.
    await backend.conn.send(make(key).stage({ topic: 'other', id: 'late', data: 'hello' }));
    const restarted = make(key);
    restarted.start();
    try {
      await waitFor(async () => (await restarted.pending()) === 0, { message: 'outbox drained' });
      const entries = await backend.conn.send<unknown[]>([
        'XRANGE',
        `${prefix}:{other:0}:stream`,
        '-',
        '+',
      ]);
      assert.equal(entries.length, 1);
    } finally {
      await restarted.close();
    }
  });

  test('an entry naming an unknown topic is refused and left staged', async () => {
    const outbox = make(`${prefix}:ob4`);
    assert.throws(() => outbox.stage({ topic: 'nope', id: 'x', data: 1 }), {
      code: 'HERALD_CONFIG',
    });
    await backend.conn.send([
      'HSET',
      outbox.key,
      'bad',
      JSON.stringify({ topic: 'nope', id: 'bad', data: 1 }),
    ]);
    await assert.rejects(outbox.flush(), { code: 'HERALD_CONFIG' });
    assert.equal(await outbox.pending(), 1);
  });
});
