/**
 * Notifications on a real 3-primary Redis Cluster: sharded pub/sub (SPUBLISH / SSUBSCRIBE).
 * Channels are chosen so that every shard holds some, and each shard's own PUBSUB
 * SHARDCHANNELS proves where the subscriptions landed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Notification, NotifierStatus } from '../core/notifications.ts';
import { uniquePrefix, waitFor } from '../test-support/redis.ts';
import { commandAt, startCluster, type RedisClusterSetup } from '../test-support/topology.ts';
import { connect, type RedisConnection } from './connection.ts';
import { RedisNotifier } from './notifications.ts';

const SHARDS = 3;
const SLOTS = 16384;
/** startCluster splits the slots evenly: node i owns [i * per, (i + 1) * per). */
const SLOTS_PER_NODE = Math.ceil(SLOTS / SHARDS);
const CHANNELS_PER_SHARD = 2;

/** Channel names (without the notifier's prefix) until every shard holds CHANNELS_PER_SHARD. */
async function channelsOnEveryShard(
  port: number,
  channelPrefix: string,
): Promise<Map<number, string[]>> {
  const byShard = new Map<number, string[]>();
  for (
    let i = 0;
    [...byShard.values()].filter((c) => c.length >= CHANNELS_PER_SHARD).length < SHARDS;
    i++
  ) {
    const name = `ch-${i}`;
    const slot = await commandAt<number>(port, ['CLUSTER', 'KEYSLOT', channelPrefix + name]);
    const shard = Math.floor(slot / SLOTS_PER_NODE);
    const list = byShard.get(shard) ?? [];
    if (list.length < CHANNELS_PER_SHARD) byShard.set(shard, [...list, name]);
  }
  return byShard;
}

void describe('RedisNotifier on a 3-primary Redis Cluster (sharded pub/sub)', () => {
  let cluster: RedisClusterSetup;
  let conn: RedisConnection;
  const notifiers: RedisNotifier[] = [];

  before(async () => {
    cluster = await startCluster({ masters: SHARDS });
    conn = await connect({ url: cluster.url });
  });

  after(async () => {
    await Promise.all(notifiers.map((n) => n.close()));
    await conn?.close();
    await cluster?.stop();
  });

  function notifier(): { n: RedisNotifier; prefix: string } {
    const prefix = uniquePrefix('notify-cluster');
    const n = new RedisNotifier(conn, prefix);
    notifiers.push(n);
    return { n, prefix };
  }

  void test('notifications on channels of every shard reach their listeners, subscribed on the owning shard', async () => {
    const { n, prefix } = notifier();
    assert.equal(n.sharded, true);
    const first = cluster.nodes[0];
    assert.ok(first);
    const byShard = await channelsOnEveryShard(first.port, `${prefix}:n:`);
    const channels = [...byShard.values()].flat();
    const got = new Map<string, Notification[]>();
    for (const c of channels) await n.listen(c, (m) => void got.set(c, [...(got.get(c) ?? []), m]));

    // Each shard's own view: its sharded channels are exactly the ones hashing to its slots.
    for (const [shard, names] of byShard) {
      const node = cluster.nodes[shard];
      assert.ok(node);
      const there = await commandAt<string[]>(node.port, [
        'PUBSUB',
        'SHARDCHANNELS',
        `${prefix}:*`,
      ]);
      assert.deepEqual(
        [...there].sort(),
        names.map((c) => `${prefix}:n:${c}`).sort(),
        `shard ${shard} holds its channels`,
      );
      // Classic pub/sub is not used: nothing is subscribed with SUBSCRIBE.
      const classic = await commandAt<string[]>(node.port, ['PUBSUB', 'CHANNELS', `${prefix}:*`]);
      assert.deepEqual(classic, []);
    }
    assert.equal(byShard.size, SHARDS, 'channels landed on all 3 shards');

    for (const c of channels) {
      const receivers = await n.notify(c, { to: c }, { type: 'test.sharded' });
      assert.equal(receivers, 1, `SPUBLISH on ${c} reached its one subscriber`);
    }
    await waitFor(() => channels.every((c) => got.get(c)?.length === 1), {
      timeoutMs: 10_000,
      message: 'not every sharded notification arrived',
    });
    for (const c of channels) {
      const [m] = got.get(c) ?? [];
      assert.equal(m?.channel, c);
      assert.equal(m?.type, 'test.sharded');
      assert.deepEqual(m?.data, { to: c });
    }
  });

  void test('a pattern is refused on a Cluster with an UnsupportedError; closing a listener unsubscribes its shard', async () => {
    const { n, prefix } = notifier();
    await assert.rejects(
      n.listen({ pattern: 'orders.*' }, () => {}),
      (e: Error & { code?: string }) =>
        e.code === 'HERALD_UNSUPPORTED' && /pattern/.test(e.message) && /Cluster/.test(e.message),
    );
    const got: unknown[] = [];
    const listener = await n.listen('once', (m) => void got.push(m.data));
    assert.equal(await n.notify('once', 1), 1);
    await waitFor(() => got.length === 1, { message: 'sharded notification not received' });
    await listener.close();
    assert.equal(await n.notify('once', 2), 0, 'nobody listens after close');
    const slot = await commandAt<number>(cluster.nodes[0]?.port ?? 0, [
      'CLUSTER',
      'KEYSLOT',
      `${prefix}:n:once`,
    ]);
    const owner = cluster.nodes[Math.floor(slot / SLOTS_PER_NODE)];
    assert.deepEqual(
      await commandAt<string[]>(owner?.port ?? 0, ['PUBSUB', 'SHARDCHANNELS', `${prefix}:*`]),
      [],
    );
  });

  void test('listening resumes after the shard holding the channel restarts', async () => {
    const { n, prefix } = notifier();
    const statuses: NotifierStatus[] = [];
    void (async () => {
      for await (const s of n.status()) statuses.push(s);
    })();
    const got: unknown[] = [];
    await n.listen('resume', (m) => void got.push(m.data));
    await n.notify('resume', 'before');
    await waitFor(() => got.includes('before'), { message: 'no notification before the restart' });

    const slot = await commandAt<number>(cluster.nodes[0]?.port ?? 0, [
      'CLUSTER',
      'KEYSLOT',
      `${prefix}:n:resume`,
    ]);
    const owner = cluster.nodes[Math.floor(slot / SLOTS_PER_NODE)];
    assert.ok(owner);
    await owner.restart();

    // Sent until one arrives: what is sent before the subscription is renewed is lost (at-most-once).
    let sent = 0;
    await waitFor(
      async () => {
        sent++;
        await n.notify('resume', `after-${sent}`).catch(() => 0);
        return got.some((d) => String(d).startsWith('after-'));
      },
      { timeoutMs: 45_000, intervalMs: 100, message: 'no notification arrived after the restart' },
    );
    assert.ok(
      statuses.some((s) => s.type === 'disconnected'),
      'a disconnected status was reported',
    );
    await waitFor(() => statuses.some((s) => s.type === 'reconnected'), {
      message: 'no reconnected status',
    });
  });
});
