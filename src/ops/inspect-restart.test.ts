/**
 * Lag after Redis reloads its AOF. Redis 7.0 replays a group's reads as XCLAIMs,
 * which move last-delivered-id but not entries-read: a group created with
 * ENTRIESREAD (as Herald creates them) comes back with its creation-time
 * entries-read and XINFO GROUPS reports a lag that stays wrong for good.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { ensureGroups } from '../redis/consumer-group.ts';
import { partitionKeys } from '../redis/keys.ts';
import {
  startRedisServer,
  uniquePrefix,
  waitFor,
  type RedisServerHandle,
} from '../test-support/redis.ts';
import { groupStats, type GroupInfo } from './inspect.ts';

const PUBLISHED = 40;

void describe('lag after a Redis restart from its AOF', () => {
  let server: RedisServerHandle;
  let backend: RedisBackend;
  const prefix = uniquePrefix('lag-restart');
  const paid = defineTopic({ name: 'paid', partitions: 2 });
  const streams = [0, 1].map((p) => partitionKeys(prefix, paid, p).stream);
  const send = (...args: string[]) => backend.conn.send(args, { key: args[1] });
  const stats = async (): Promise<Map<string, GroupInfo>> =>
    new Map((await groupStats(backend.conn, prefix, paid)).map((g) => [g.group, g]));

  /** Reads `count` events of one partition for `group` and acknowledges them. */
  async function consume(stream: string, group: string, count: number): Promise<void> {
    const reply = await send(
      'XREADGROUP',
      'GROUP',
      group,
      'worker',
      'COUNT',
      String(count),
      'STREAMS',
      stream,
      '>',
    );
    const entries = (reply as [string, [string, unknown][]][] | null)?.[0]?.[1] ?? [];
    if (entries.length > 0) await send('XACK', stream, group, ...entries.map((e) => e[0]));
  }

  async function restart(): Promise<void> {
    await backend.close();
    await server.restart();
    backend = await RedisBackend.connect({ url: server.url, prefix });
  }

  before(async () => {
    server = await startRedisServer({ appendonly: true, appendfsync: 'always' });
    backend = await RedisBackend.connect({ url: server.url, prefix });
    // 'fulfillment' subscribes before anything is published (the stream is created with the group),
    // 'audit' joins later at '$'; both through Herald's own group creation.
    const parts = [0, 1].map((p) => partitionKeys(prefix, paid, p));
    await ensureGroups(backend.conn, parts, 'fulfillment', '$');
    await backend.publishBatch(
      paid,
      Array.from({ length: PUBLISHED }, (_, i) => ({ data: { i }, key: `k${i}` })),
    );
    await ensureGroups(backend.conn, parts, 'audit', '$');
    await backend.publishBatch(
      paid,
      Array.from({ length: PUBLISHED }, (_, i) => ({ data: { i }, key: `k${i}` })),
    );
  });
  after(async () => {
    await backend.close();
    await server.stop();
  });

  void test('consume everything, restart: lag 0; consume half, restart: lag = the unread count', async () => {
    // fulfillment handles all 80 events through a real subscription.
    let handled = 0;
    const sub = backend.subscribe(paid, { group: 'fulfillment' }, () => {
      handled++;
      return Promise.resolve();
    });
    await waitFor(() => handled === 2 * PUBLISHED, { timeoutMs: 30_000 });
    await waitFor(async () => (await stats()).get('fulfillment')?.pending === 0);
    await sub.close();
    // audit reads and acknowledges half of what was published after it joined.
    const before = (await stats()).get('audit');
    assert.equal(before?.lag, PUBLISHED, 'audit joined before the second batch');
    let unread = 0;
    for (const [p, stream] of streams.entries()) {
      const left = before.partitions[p]?.lag ?? 0;
      const half = Math.floor(left / 2);
      await consume(stream, 'audit', half);
      unread += left - half;
    }

    await restart();
    const after1 = await stats();
    assert.equal(after1.get('fulfillment')?.lag, 0, 'fulfillment handled everything');
    assert.equal(after1.get('audit')?.lag, unread, 'audit: the events it has not read');
    assert.deepEqual(after1.get('fulfillment')?.redisLagWrong, [0, 1], 'Redis 7.0 is wrong here');

    // Reading on after the restart keeps the figure right, and a second restart too.
    await backend.publishBatch(
      paid,
      Array.from({ length: 10 }, (_, i) => ({ data: { i }, key: `k${i}` })),
    );
    for (const stream of streams) await consume(stream, 'fulfillment', 100);
    assert.equal((await stats()).get('fulfillment')?.lag, 0);
    await restart();
    const after2 = await stats();
    assert.equal(after2.get('fulfillment')?.lag, 0);
    assert.equal(after2.get('audit')?.lag, unread + 10);
  });
});
