import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../core/logger.ts';
import { defineTopic } from '../core/topic.ts';
import { groupStats } from '../ops/inspect.ts';
import { listQueues } from '../ops/queue-admin.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { parseJson, runHerald, spawnHerald } from './testing.ts';

void describe('herald groups reset|delete, herald queues, herald console', () => {
  let backend: RedisBackend;
  const prefix = uniquePrefix('cliadmin');
  const orders = defineTopic({ name: 'orders' });
  const args = (...rest: string[]) => ['--url', testRedisUrl(), '--prefix', prefix, ...rest];

  before(async () => {
    backend = await RedisBackend.connect({ url: testRedisUrl(), prefix, logger: silentLogger });
    await backend.publishBatch(
      orders,
      Array.from({ length: 12 }, (_, i) => ({ data: { i } })),
    );
    const stream = partitionKeys(prefix, orders, 0).stream;
    await backend.conn.send(['XGROUP', 'CREATE', stream, 'billing', '$', 'ENTRIESREAD', '12']);
    const q = backend.queue('emails');
    await q.push([{ to: 'a' }, { to: 'b' }]);
    const w = q.work(
      () => {
        throw new Error('smtp down');
      },
      { maxAttempts: 1, blockMs: 100 },
    );
    await waitFor(async () => (await q.counts()).dead === 2);
    await w.close();
  });
  after(async () => {
    await backend.close();
  });

  void test('groups reset --dry-run previews, --yes applies; delete removes', async () => {
    const dry = await runHerald(
      args('groups', 'reset', 'orders', 'billing', '--to', 'beginning', '--dry-run', '--json'),
    );
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(
      (({ replays, skips, applied }) => ({ replays, skips, applied }))(
        parseJson<{ replays: number; skips: number; applied: boolean }>(dry),
      ),
      { replays: 12, skips: 0, applied: false },
    );
    const refused = await runHerald(
      args('groups', 'reset', 'orders', 'billing', '--to', 'beginning'),
    );
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /--yes/);
    const done = await runHerald(
      args('groups', 'reset', 'orders', 'billing', '--to', 'beginning', '--yes'),
    );
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /replays 12 event/);
    assert.equal((await groupStats(backend.conn, prefix, 'orders'))[0]?.lag, 12);
    const del = await runHerald(args('groups', 'delete', 'orders', 'billing', '--yes'));
    assert.equal(del.code, 0, del.stderr);
    assert.equal(
      parseJson<unknown[]>(await runHerald(args('groups', 'orders', '--json'))).length,
      0,
    );
  });

  void test('queues lists, shows dead items, retries them', async () => {
    const list = await runHerald(args('queues', '--json'));
    assert.deepEqual(parseJson(list), [{ name: 'emails', pending: 0, processing: 0, dead: 2 }]);
    const dead = parseJson<{ id: string }[]>(
      await runHerald(args('queues', 'dead', 'emails', '--json')),
    );
    assert.equal(dead.length, 2);
    const one = await runHerald(
      args('queues', 'retry', 'emails', '--id', dead[0]?.id ?? '', '--json'),
    );
    assert.deepEqual(parseJson(one), { queue: 'emails', retried: 1 });
    const purge = await runHerald(args('queues', 'purge', 'emails', '--yes', '--json'));
    assert.deepEqual(parseJson(purge), { queue: 'emails', purged: 1 });
    assert.deepEqual(await listQueues(backend.conn, prefix), [
      { name: 'emails', pending: 1, processing: 0, dead: 0 },
    ]);
  });

  void test('herald console prints its URL and serves the overview', async () => {
    const child = spawnHerald(args('console', '--port', '0'));
    try {
      const url = await waitFor(
        () => /Herald console on (http:\/\/\S+?)\//.exec(child.stdout())?.[1],
        { timeoutMs: 30_000 },
      );
      const overview = (await (await fetch(`${url}/v1/overview`)).json()) as {
        topics: { name: string }[];
      };
      assert.deepEqual(
        overview.topics.map((t) => t.name),
        ['orders'],
      );
      child.child.kill('SIGTERM');
      assert.equal((await child.exited).code, 0);
    } finally {
      child.kill();
    }
  });
});
