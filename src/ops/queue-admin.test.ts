import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type RedisConnection } from '../redis/connection.ts';
import { queueKeys } from '../redis/queue-items.ts';
import { RedisQueueFactory } from '../redis/queue.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { listDeadItems, listQueues, purgeDeadItems, retryDeadItems } from './queue-admin.ts';

void describe('queue admin: list, retry and purge dead items', () => {
  let conn: RedisConnection;
  let queues: RedisQueueFactory;
  const prefix = uniquePrefix('qadmin');

  before(async () => {
    conn = await connect({ url: testRedisUrl() });
    queues = new RedisQueueFactory(conn, prefix);
    const emails = queues.queue<{ n: number }>('emails');
    await emails.push(Array.from({ length: 6 }, (_, n) => ({ n })));
    const worker = emails.work(
      () => {
        throw new Error('smtp down');
      },
      { maxAttempts: 1, blockMs: 100 },
    );
    await waitFor(async () => (await emails.counts()).dead === 6, { timeoutMs: 20_000 });
    await worker.close();
    await queues.queue('reports').push({ r: 1 });
  });
  after(async () => {
    await queues.close();
    await conn.close();
  });

  void test('listQueues finds every queue with its counts', async () => {
    const list = await listQueues(conn, prefix);
    assert.deepEqual(list, [
      { name: 'emails', pending: 0, processing: 0, dead: 6 },
      { name: 'reports', pending: 1, processing: 0, dead: 0 },
    ]);
  });

  void test('retry one by id, then purge one, then retry all: payload intact, attempts reset', async () => {
    const dead = await listDeadItems(conn, prefix, 'emails');
    assert.equal(dead.length, 6);
    assert.match(dead[0]?.error ?? '', /smtp down/);
    const first = dead[0]?.id as string;
    assert.equal(await retryDeadItems(conn, prefix, 'emails', { ids: [first] }), 1);
    const k = queueKeys(prefix, 'emails');
    const [moved] = await conn.send<string[]>(['LRANGE', k.pending, '0', '-1']);
    assert.match(
      moved ?? '',
      new RegExp(`^\\{"id":"${first}","attempt":0,"pushedAt":\\d+,"data":\\{"n":\\d\\}\\}$`),
    );
    assert.equal(await purgeDeadItems(conn, prefix, 'emails', { ids: [dead[1]?.id as string] }), 1);
    const progress: number[] = [];
    assert.equal(
      await retryDeadItems(conn, prefix, 'emails', { onProgress: (d) => progress.push(d) }),
      4,
    );
    assert.deepEqual(progress, [4]);
    const counts = (await listQueues(conn, prefix)).find((q) => q.name === 'emails');
    assert.deepEqual(counts, { name: 'emails', pending: 5, processing: 0, dead: 0 });
  });
});
