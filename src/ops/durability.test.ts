import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DurabilityError } from '../core/errors.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { connect, type RedisConnection } from '../redis/connection.ts';
import { partitionKeys } from '../redis/keys.ts';
import {
  startRedisServer,
  uniquePrefix,
  waitFor,
  type RedisServerHandle,
} from '../test-support/redis.ts';
import { startCluster, startClusterReplicas } from '../test-support/topology.ts';
import { parseInfo } from './inspect.ts';
import { enableDurability, type DurabilityHandle } from './durability.ts';

void describe('replicated durability against a real replica', () => {
  let primary: RedisServerHandle;
  let replica: RedisServerHandle;
  let replicaConn: RedisConnection;
  let backend: RedisBackend;
  let durability: DurabilityHandle;

  const replicated = defineTopic({
    name: 'payments',
    durability: { mode: 'replicated', replicas: 1, timeoutMs: 500 },
  });
  const plain = defineTopic({ name: 'clicks', partitions: 2 });

  before(async () => {
    primary = await startRedisServer({ appendonly: false });
    replica = await startRedisServer({
      appendonly: false,
      replicaOf: { host: '127.0.0.1', port: primary.port },
    });
    replicaConn = await connect({ url: replica.url });
    await waitFor(
      async () =>
        parseInfo(String(await replicaConn.send(['INFO', 'replication']))).master_link_status ===
        'up',
      { message: 'the replica did not connect to the primary' },
    );
    backend = await RedisBackend.connect({ url: primary.url, prefix: uniquePrefix('durability') });
    durability = await enableDurability(backend);
  });
  after(async () => {
    await durability.stop();
    await backend.close();
    replicaConn.destroy();
    await replica.stop();
    await primary.stop();
  });

  const onReplica = (t: Topic<unknown>, partition = 0): Promise<number> =>
    replicaConn.send<number>(['XLEN', partitionKeys(backend.prefix, t, partition).stream]);

  void test('succeeds while the replica is up: the events are on the replica when publish resolves', async () => {
    // A generous timeout here: this machine may be loaded; the 500 ms bound is tested below.
    const generous = {
      durability: { mode: 'replicated', replicas: 1, timeoutMs: 10_000 },
    } as const;
    const receipts = await backend.publishBatch(
      replicated,
      [{ data: { n: 1 } }, { data: { n: 2 } }],
      generous,
    );
    assert.equal(receipts.length, 2);
    assert.equal(await onReplica(replicated), 2);
    // Concurrent replicated publishes share WAITs and all succeed.
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        backend.publish(replicated, { data: { n: i } }, generous),
      ),
    );
    assert.equal(await onReplica(replicated), 52);
  });

  void test('a publish can ask for replication on a topic that does not, on any partition', async () => {
    const receipts = await backend.publishBatch(
      plain,
      Array.from({ length: 10 }, (_, i) => ({ data: { i }, key: `k${i}` })),
      { durability: { mode: 'replicated', replicas: 1 } },
    );
    assert.deepEqual([...new Set(receipts.map((r) => r.partition))].sort(), [0, 1]);
    const copies = (await onReplica(plain, 0)) + (await onReplica(plain, 1));
    assert.equal(copies, 10);
  });

  void test('impossible durability settings are refused before anything is written', async () => {
    await assert.rejects(
      backend.publish(plain, { data: {} }, { durability: { mode: 'replicated', replicas: 0 } }),
      ConfigError,
    );
    await assert.rejects(
      backend.publish(
        plain,
        { data: {} },
        { durability: { mode: 'replicated', replicas: 1, timeoutMs: 0 } },
      ),
      ConfigError,
    );
  });

  void test('a WAIT on another server connection than the write never confirms it: DurabilityError, not OK', async () => {
    const generous = {
      durability: { mode: 'replicated', replicas: 1, timeoutMs: 10_000 },
    } as const;
    // Durability is enabled again after the test's hook, so the hook runs before its WAIT.
    await durability.stop();
    const admin = await connect({ url: primary.url });
    // Runs after the write, before the WAIT: kills the connection that wrote and waits until
    // the client has reconnected, so the WAIT goes out on a new connection that wrote nothing.
    const reconnectBetween = async (): Promise<void> => {
      const clients = await admin.send<string>(['CLIENT', 'LIST']);
      const writer = /^id=(\d+) .* cmd=xadd /m.exec(clients)?.[1];
      assert.ok(writer, `no connection that wrote: ${clients}`);
      const dedicated = backend.publishConnectionFor(replicated, generous);
      assert.ok(dedicated !== backend.conn, 'replicated publishes write on their own connection');
      const ready = new Promise<void>((resolve) => dedicated.on('ready', () => resolve()));
      await admin.send(['CLIENT', 'KILL', 'ID', writer]);
      await ready;
    };
    const removeHook = backend.addHook('afterPublish', reconnectBetween);
    durability = await enableDurability(backend);
    try {
      await assert.rejects(
        backend.publish(replicated, { data: { moved: true } }, generous),
        (e: unknown) =>
          e instanceof DurabilityError &&
          /connection was re-established or the master changed.*outcome is unknown/.test(e.message),
      );
    } finally {
      removeHook();
      admin.destroy();
    }
    // The next publish writes and waits on the new connection: confirmed again.
    await backend.publish(replicated, { data: { after: true } }, generous);
    assert.equal(await onReplica(replicated), 54);
  });

  void test('with the replica stopped, fails with DurabilityError (outcome unknown) within the timeout', async () => {
    await replica.stop();
    const t0 = performance.now();
    const attempts = await Promise.allSettled(
      Array.from({ length: 5 }, (_, i) => backend.publish(replicated, { data: { lost: i } })),
    );
    const elapsed = performance.now() - t0;
    for (const a of attempts) {
      assert.equal(a.status, 'rejected');
      const e = a.reason as DurabilityError;
      assert.ok(e instanceof DurabilityError, String(e));
      assert.equal(e.code, 'HERALD_DURABILITY');
      assert.equal(e.acknowledgedReplicas, 0);
      assert.equal(e.requiredReplicas, 1);
      assert.match(e.message, /0 of 1 replica confirmed within 500 ms.*outcome is unknown/);
    }
    // Five concurrent publishes share WAITs: about two timeouts, not five.
    console.log(
      `durability: 5 concurrent replicated publishes with the replica down failed in ${elapsed.toFixed(0)} ms`,
    );
    assert.ok(elapsed < 2 * 500 + 1500, `took ${elapsed} ms`);
    // The events were written on the primary all the same (the outcome was unknown, not failed).
    const xlen = await backend.conn.send<number>([
      'XLEN',
      partitionKeys(backend.prefix, replicated, 0).stream,
    ]);
    assert.equal(xlen, 54 + 5);
    // Primary-only publishes are unaffected.
    await backend.publish(plain, { data: { ok: true } });
  });
});

void test('backend.close() alone releases the dedicated replication connection', async () => {
  const server = await startRedisServer({ appendonly: false });
  try {
    const probe = await connect({ url: server.url });
    const clients = async (): Promise<number> =>
      (await probe.send<string>(['CLIENT', 'LIST'])).split('\n').filter((l) => l.trim() !== '')
        .length;
    const alone = await clients();
    const b = await RedisBackend.connect({ url: server.url, prefix: uniquePrefix('dur-close') });
    await enableDurability(b);
    await waitFor(async () => (await clients()) === alone + 2, {
      message: 'shared + dedicated connection',
    });
    await b.close();
    await waitFor(async () => (await clients()) === alone, { message: 'close() released both' });
    probe.destroy();
  } finally {
    await server.stop();
  }
});

void test('on a Cluster, each node written to confirms its own partitions', async () => {
  const cluster = await startCluster({ masters: 3 });
  const replicas = await startClusterReplicas(cluster, 1);
  const b = await RedisBackend.connect({ url: cluster.url, prefix: uniquePrefix('dur-cluster') });
  try {
    await enableDurability(b);
    const spread = defineTopic({ name: 'spread', partitions: 6 });
    const receipts = await b.publishBatch(
      spread,
      Array.from({ length: 30 }, (_, i) => ({ data: { i }, key: `k${i}` })),
      { durability: { mode: 'replicated', replicas: 1, timeoutMs: 10_000 } },
    );
    const nodesWritten = new Set<number>();
    // Reads on a cluster replica need READONLY first, on the same connection.
    const readers = await Promise.all(replicas.map((r) => connect({ url: r.url })));
    await Promise.all(readers.map((c) => c.send(['READONLY'])));
    // Every confirmed event is on a replica when publish resolves.
    for (const r of receipts) {
      const stream = partitionKeys(b.prefix, spread, r.partition).stream;
      let copies = 0;
      for (const [i, reader] of readers.entries()) {
        const found = await reader
          .send<unknown[]>(['XRANGE', stream, r.position, r.position])
          .catch(() => []); // MOVED: not this replica's slot
        if (found.length > 0) {
          copies++;
          nodesWritten.add(i);
        }
      }
      assert.equal(copies, 1, `event ${r.id} on ${copies} replicas`);
    }
    for (const c of readers) c.destroy();
    assert.ok(nodesWritten.size > 1, 'the partitions spread over several nodes');
    // With one node's replica gone, only that node's partitions are refused.
    await (replicas[0] as RedisServerHandle).kill();
    await assert.rejects(
      b.publishBatch(
        spread,
        Array.from({ length: 30 }, (_, i) => ({ data: { i }, key: `k${i}` })),
        { durability: { mode: 'replicated', replicas: 1, timeoutMs: 300 } },
      ),
      (e: unknown) => e instanceof DurabilityError && e.acknowledgedReplicas === 0,
    );
  } finally {
    await b.close();
    await Promise.all(replicas.map((r) => r.kill()));
    await cluster.stop();
  }
});
