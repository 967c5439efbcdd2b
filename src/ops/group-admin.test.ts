import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NotFoundError } from '../core/errors.ts';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { deleteGroup, previewGroupReset, resetGroup } from './group-admin.ts';
import { groupStats } from './inspect.ts';
import { parseStreamTarget } from './stream-ids.ts';

void describe('group admin: reset with preview, delete', () => {
  let backend: RedisBackend;
  const orders = defineTopic({ name: 'orders' });
  let positions: string[] = [];
  const stream = () => partitionKeys(backend.prefix, orders, 0).stream;
  const send = (...args: string[]) => backend.conn.send(args);

  before(async () => {
    backend = await RedisBackend.connect({ url: testRedisUrl(), prefix: uniquePrefix('gadmin') });
    const receipts = await backend.publishBatch(
      orders,
      Array.from({ length: 30 }, (_, i) => ({ data: { i } })),
    );
    positions = receipts.map((r) => r.position);
    await send('XGROUP', 'CREATE', stream(), 'billing', '0');
    // billing has read 20 of 30.
    await send('XREADGROUP', 'GROUP', 'billing', 'w1', 'COUNT', '20', 'STREAMS', stream(), '>');
  });
  after(async () => {
    await backend.close();
  });

  void test('preview counts replays back to a position and skips forward to the end; writes nothing', async () => {
    const back = await previewGroupReset(
      backend.conn,
      backend.prefix,
      'orders',
      'billing',
      parseStreamTarget(positions[5] as string),
    );
    assert.equal(back.replays, 15); // positions 5..19 are read again
    assert.equal(back.skips, 0);
    assert.equal(back.exact, true);
    const forward = await previewGroupReset(
      backend.conn,
      backend.prefix,
      'orders',
      'billing',
      parseStreamTarget('end'),
    );
    assert.deepEqual([forward.replays, forward.skips], [0, 10]);
    const [g] = await groupStats(backend.conn, backend.prefix, 'orders');
    assert.equal(g?.lag, 10, 'a preview changes nothing');
  });

  void test('reset moves the group and keeps Redis lag exact; by time too', async () => {
    const plan = await resetGroup(
      backend.conn,
      backend.prefix,
      'orders',
      'billing',
      parseStreamTarget(positions[5] as string),
    );
    assert.equal(plan.replays, 15);
    let [g] = await groupStats(backend.conn, backend.prefix, 'orders');
    assert.equal(g?.lag, 25);
    assert.equal(g?.pending, 20, 'held events stay pending');
    const read = await send(
      'XREADGROUP',
      'GROUP',
      'billing',
      'w1',
      'COUNT',
      '1',
      'STREAMS',
      stream(),
      '>',
    );
    assert.match(JSON.stringify(read), new RegExp(positions[5] as string));

    const future = new Date(Date.now() + 3_600_000).toISOString();
    const toFuture = await resetGroup(
      backend.conn,
      backend.prefix,
      'orders',
      'billing',
      parseStreamTarget(future),
    );
    assert.equal(toFuture.skips, 24);
    [g] = await groupStats(backend.conn, backend.prefix, 'orders');
    assert.equal(g?.lag, 0);
    const toStart = await resetGroup(
      backend.conn,
      backend.prefix,
      'orders',
      'billing',
      parseStreamTarget('beginning'),
    );
    assert.equal(toStart.replays, 30);
    [g] = await groupStats(backend.conn, backend.prefix, 'orders');
    assert.equal(g?.lag, 30);
  });

  void test('unknown group or topic is NotFound; delete removes the group', async () => {
    await assert.rejects(
      previewGroupReset(backend.conn, backend.prefix, 'orders', 'nope', parseStreamTarget('end')),
      NotFoundError,
    );
    await assert.rejects(
      deleteGroup(backend.conn, backend.prefix, 'nope', 'billing'),
      NotFoundError,
    );
    await send('XGROUP', 'CREATE', stream(), 'doomed', '$');
    const d = await deleteGroup(backend.conn, backend.prefix, 'orders', 'doomed');
    assert.equal(d.partitions, 1);
    const names = (await groupStats(backend.conn, backend.prefix, 'orders')).map((x) => x.group);
    assert.deepEqual(names, ['billing']);
  });
});
