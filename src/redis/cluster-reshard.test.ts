/**
 * Resharding with Herald running: a publisher and a consumer group work on a 12-partition topic
 * of a 3-primary Redis Cluster while a fourth primary joins (`redis-cli --cluster add-node`) and
 * the slots of the topic's partitions move to it one by one, keys migrated a few at a time
 * (CLUSTER SETSLOT IMPORTING / MIGRATING, MIGRATE, SETSLOT NODE: what `redis-cli --cluster
 * reshard` does per slot), so that commands meet MOVED, ASK and TRYAGAIN on the way. Every
 * acknowledged publish must be handled: lost 0, unexpected 0. And no publish fails because of the
 * migration: commands refused while their slot moves (TRYAGAIN, an ASK to a node the client does
 * not know yet) are sent again within the publish's deadline; a publish may fail only as a
 * TimeoutError, its deadline passed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode } from '../core/errors.ts';
import { defineTopic } from '../core/topic.ts';
import { DeliveryChecker, describeReport } from '../testing/checker.ts';
import {
  startRedisServer,
  uniquePrefix,
  waitFor,
  type RedisServerHandle,
} from '../test-support/redis.ts';
import { commandAt, startCluster, type RedisClusterSetup } from '../test-support/topology.ts';
import { RedisBackend } from './backend.ts';
import { partitionKeys } from './keys.ts';

const run = promisify(execFile);
const PARTITIONS = 12;
const KEYS = 50;
const BATCH = 10;
const PUBLISH_EVERY_MS = 10;
/** Keys moved per MIGRATE, and the pause between two: stretches each slot's migration. */
const MIGRATE_KEYS = 5;
const MIGRATE_PAUSE_MS = 20;
const MIGRATE_TIMEOUT_MS = '5000';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const nodeId = (port: number): Promise<string> => commandAt<string>(port, ['CLUSTER', 'MYID']);

/** The node (port) owning `slot`, from CLUSTER SLOTS as seen by the node at `port`. */
async function ownerOf(port: number, slot: number): Promise<number> {
  const ranges = await commandAt<[number, number, [string, number]][]>(port, ['CLUSTER', 'SLOTS']);
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  assert.ok(range, `no owner for slot ${slot}`);
  return Number(range[2][1]);
}

/** Moves one slot from `from` to `to` with Herald's traffic running, a few keys at a time. */
async function migrateSlot(
  slot: number,
  from: number,
  to: number,
  masters: readonly number[],
): Promise<number> {
  const [fromId, toId] = await Promise.all([nodeId(from), nodeId(to)]);
  await commandAt(to, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', fromId]);
  await commandAt(from, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', toId]);
  let moved = 0;
  for (;;) {
    const keys = await commandAt<string[]>(from, [
      'CLUSTER',
      'GETKEYSINSLOT',
      String(slot),
      String(MIGRATE_KEYS),
    ]);
    if (keys.length === 0) break;
    await commandAt(from, [
      'MIGRATE',
      '127.0.0.1',
      String(to),
      '',
      '0',
      MIGRATE_TIMEOUT_MS,
      'KEYS',
      ...keys,
    ]);
    moved += keys.length;
    await sleep(MIGRATE_PAUSE_MS);
  }
  // The target first, then the source, then every other primary (the cluster spec's order).
  await commandAt(to, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
  await commandAt(from, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
  for (const m of masters)
    if (m !== from && m !== to)
      await commandAt(m, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', toId]);
  return moved;
}

void describe('resharding a Redis Cluster while Herald publishes and consumes', () => {
  let cluster: RedisClusterSetup;
  let added: RedisServerHandle | undefined;
  let addedDir: string | undefined;
  let publisher: RedisBackend | undefined;
  let consumer: RedisBackend | undefined;

  before(async () => {
    cluster = await startCluster({ masters: 3 });
  });

  after(async () => {
    await consumer?.close({ deadlineMs: 2000 });
    await publisher?.close();
    await added?.kill();
    if (addedDir) rmSync(addedDir, { recursive: true, force: true });
    await cluster?.stop();
  });

  void test('a new primary joins and takes the slots of every partition: lost 0, unexpected 0', async () => {
    const prefix = uniquePrefix('reshard');
    const topic = defineTopic<{ n: number }>({ name: 'orders', partitions: PARTITIONS });
    const pub = await RedisBackend.connect({ url: cluster.url, prefix });
    publisher = pub;
    consumer = await RedisBackend.connect({ url: cluster.url, prefix });
    const checker = new DeliveryChecker();
    const sub = consumer.subscribe(topic, { group: 'billing', startFrom: 'beginning' }, (e) => {
      checker.handled(e);
    });
    await sub.ready;

    // The publisher: batches with explicit ids (so each event also writes a dedupe key in its
    // partition's slot); a rejected batch is retried as is, its ids deduplicated.
    const errors = new Map<string, number>();
    const samples = new Map<string, string>();
    let n = 0;
    let publishing = true;
    let acknowledged = 0;
    const publishLoop = (async () => {
      let pending: { id: string; key: string; data: { n: number } }[] = [];
      while (publishing) {
        if (pending.length === 0)
          pending = Array.from({ length: BATCH }, () => {
            const i = n++;
            return { id: `e-${i}`, key: `k${i % KEYS}`, data: { n: i } };
          });
        try {
          const receipts = await pub.publishBatch(topic, pending);
          for (const r of receipts) checker.published(r);
          acknowledged += receipts.length;
          pending = [];
        } catch (e) {
          const code = (e as { code?: string }).code ?? 'other';
          const reply = /(MOVED|ASK|TRYAGAIN|CLUSTERDOWN|Cannot find node)/.exec(
            String((e as Error).message),
          );
          const label = reply ? `${code} (${reply[1]})` : code;
          errors.set(label, (errors.get(label) ?? 0) + 1);
          if (!samples.has(label)) samples.set(label, String((e as Error).message).slice(0, 300));
        }
        await sleep(PUBLISH_EVERY_MS);
      }
    })();
    await waitFor(() => acknowledged >= 200, { message: 'publishing did not start' });

    // A fourth primary joins with redis-cli, as an operator adds one.
    addedDir = mkdtempSync(path.join(os.tmpdir(), 'herald-reshard-'));
    const node = await startRedisServer({
      dir: addedDir,
      appendonly: false,
      extraArgs: [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        path.join(addedDir, 'nodes.conf'),
        '--cluster-node-timeout',
        '2000',
      ],
    });
    added = node;
    const first = cluster.nodes[0] as RedisServerHandle;
    const { stdout: addOut } = await run('redis-cli', [
      '--cluster',
      'add-node',
      `127.0.0.1:${node.port}`,
      `127.0.0.1:${first.port}`,
    ]);
    assert.match(addOut, /New node added correctly/);
    const masters = [...cluster.nodes.map((m) => m.port), node.port];
    await waitFor(
      async () => {
        for (const port of masters) {
          const info = String(await commandAt(port, ['CLUSTER', 'INFO']));
          // Every node knows the 4 and sees every slot served (the new node too: it refuses
          // MIGRATE with CLUSTERDOWN until it does).
          if (!/cluster_known_nodes:4/.test(info) || !/cluster_state:ok/.test(info)) return false;
        }
        return true;
      },
      { timeoutMs: 20_000, message: 'the new node did not join' },
    );

    // Move the slot of every partition to the new node, one after the other, traffic running.
    const slots = new Set<number>();
    for (let p = 0; p < PARTITIONS; p++)
      slots.add(
        await commandAt<number>(first.port, [
          'CLUSTER',
          'KEYSLOT',
          partitionKeys(prefix, topic, p).stream,
        ]),
      );
    const before = acknowledged;
    let keysMoved = 0;
    const t0 = performance.now();
    for (const slot of slots) {
      const from = await ownerOf(first.port, slot);
      keysMoved += await migrateSlot(slot, from, node.port, masters);
    }
    const migrationMs = performance.now() - t0;
    const duringMigration = acknowledged - before;
    for (const slot of slots) assert.equal(await ownerOf(first.port, slot), node.port);

    // Keep going a little on the new layout, then drain.
    const afterMigration = acknowledged;
    await waitFor(() => acknowledged >= afterMigration + 200, {
      timeoutMs: 20_000,
      message: 'publishing did not go on after the migration',
    });
    publishing = false;
    await publishLoop;
    // Waits for the drain; what is missing after it shows in the report's figures below.
    await waitFor(() => checker.allDelivered(), { timeoutMs: 30_000 }).catch(() => undefined);
    const report = checker.report();

    // The partitions' streams now live on the new node.
    const onNew = await Promise.all(
      Array.from({ length: PARTITIONS }, (_, p) =>
        commandAt<number>(node.port, ['XLEN', partitionKeys(prefix, topic, p).stream]),
      ),
    );
    const { stdout: check } = await run('redis-cli', [
      '--cluster',
      'check',
      `127.0.0.1:${first.port}`,
    ]);
    console.log(
      `reshard: ${slots.size} slots (${keysMoved} keys) moved in ${(migrationMs / 1000).toFixed(1)} s; ` +
        `${acknowledged} events acknowledged (${duringMigration} during the migration); ` +
        `publish errors retried: ${JSON.stringify(Object.fromEntries(errors))} (first of each: ${JSON.stringify(Object.fromEntries(samples))}); ${describeReport(report)}`,
    );
    assert.equal(report.lost, 0, describeReport(report));
    assert.equal(report.unexpected, 0, describeReport(report));
    // Publishing went on through the migration: only a deadline passed may fail a publish.
    const failures = [...errors.keys()].filter((label) => !label.startsWith(ErrorCode.Timeout));
    assert.deepEqual(
      failures,
      [],
      `publishes failed during the migration: ${JSON.stringify(Object.fromEntries(samples))}`,
    );
    assert.ok(duringMigration > 0, 'events were published while slots moved');
    assert.equal(
      onNew.reduce((a, b) => a + b, 0),
      acknowledged,
      'every stored event is on the new node',
    );
    assert.match(check, /\[OK\] All 16384 slots covered/);
  });
});
