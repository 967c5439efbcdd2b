import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { defineTopic, type Topic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { connect } from '../redis/connection.ts';
import { partitionKeys } from '../redis/keys.ts';
import { formatOwnerValue } from '../redis/ownership-read.ts';
import { startRedisServer, testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { createExporter, EXPORTER_METRICS, serveExporter } from './exporter.ts';
import { idMs } from './inspect.ts';
import { instrument } from './metrics.ts';
import { QueueFinder, queueNameOfKey } from './queue-inspect.ts';
import { queueKeys } from '../redis/queue-items.ts';

/** Exposition text as `name{labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/** Runs `promtool check metrics` on the text; returns its complaints ('' when clean). */
function promtoolCheck(text: string): string {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(r.error, undefined, 'promtool is missing: apt-get install prometheus');
  return `${r.stdout}${r.stderr}`.trim() + (r.status === 0 ? '' : `\n(exit ${r.status})`);
}

const quiet = pino({ level: 'silent' });

void describe('exporter', () => {
  let backend: RedisBackend;
  const orders = defineTopic({ name: 'orders' });
  const clicks = defineTopic({ name: 'clicks', partitions: 3 });
  const stream = (t: Topic<unknown>, p = 0) => partitionKeys(backend.prefix, t, p).stream;
  const send = (...args: string[]) => backend.conn.send(args);

  before(async () => {
    backend = await RedisBackend.connect({ url: testRedisUrl(), prefix: uniquePrefix('exporter') });
    // 100 published; group A read 60 and acknowledged 40 → lag 40, pending 20. Group B starts at the end.
    await backend.publishBatch(
      orders,
      Array.from({ length: 100 }, (_, i) => ({ data: { i } })),
    );
    await send('XGROUP', 'CREATE', stream(orders), 'A', '0');
    await send('XGROUP', 'CREATE', stream(orders), 'B', '$');
    await send(
      'XREADGROUP',
      'GROUP',
      'A',
      'worker-1',
      'COUNT',
      '60',
      'STREAMS',
      stream(orders),
      '>',
    );
    const ids = (
      await backend.conn.send<[string][]>(['XRANGE', stream(orders), '-', '+', 'COUNT', '40'])
    ).map((e) => e[0]);
    await send('XACK', stream(orders), 'A', ...ids);
    // 30 clicks over 3 partitions, one dead letter on partition 2, a group on every partition.
    await backend.publishBatch(
      clicks,
      Array.from({ length: 30 }, (_, i) => ({ data: { i }, key: `k${i}` })),
    );
    for (let p = 0; p < 3; p++) await send('XGROUP', 'CREATE', stream(clicks, p), 'stats', '0');
    await send(
      'XADD',
      partitionKeys(backend.prefix, clicks, 2).dlq,
      '*',
      'herald-dlq-group',
      'stats',
    );
    // 'stats' is an ordered group: ownership keys in the documented format, written directly.
    // Partition 0 owned by inst-a at epoch 3, partition 1 by inst-b at epoch 1, partition 2
    // unowned after 2 take-overs (its lease expired; the epoch key stays).
    const own = (p: number) => partitionKeys(backend.prefix, clicks, p);
    await send('SET', `${own(0).ownerPrefix}stats`, formatOwnerValue(3, 'inst-a'), 'PX', '60000');
    await send('SET', `${own(0).epochPrefix}stats`, '3');
    await send('SET', `${own(1).ownerPrefix}stats`, formatOwnerValue(1, 'inst-b'), 'PX', '60000');
    await send('SET', `${own(1).epochPrefix}stats`, '1');
    await send('SET', `${own(2).epochPrefix}stats`, '2');
  });
  after(async () => {
    await backend.close();
  });

  void test('lag and pending match XINFO for a constructed scenario (100 published, A read 60, acked 40)', async () => {
    const exporter = createExporter({ conn: backend.conn, prefix: backend.prefix, cacheMs: 0 });
    const m = parse(await exporter.metrics());
    const key = (name: string, group: string) =>
      `${name}{topic="orders",partition="0",group="${group}"}`;
    assert.equal(m.get(key('herald_group_lag', 'A')), 40);
    assert.equal(m.get(key('herald_group_pending', 'A')), 20);
    assert.equal(m.get(key('herald_group_lag', 'B')), 0);
    assert.equal(m.get(key('herald_group_pending', 'B')), 0);
    const xinfo = (await backend.conn.send<{ name: string; lag: number; pending: number }[]>([
      'XINFO',
      'GROUPS',
      stream(orders),
    ])) as { name: string; lag: number; pending: number }[];
    for (const g of xinfo) {
      assert.equal(m.get(key('herald_group_lag', g.name)), g.lag);
      assert.equal(m.get(key('herald_group_pending', g.name)), g.pending);
    }
    assert.equal(m.get(key('herald_group_consumers', 'A')), 1);
    assert.equal(m.get(key('herald_group_consumers', 'B')), 0);
    const age = m.get(key('herald_group_oldest_pending_age_seconds', 'A')) ?? -1;
    assert.ok(age >= 0 && age < 120, `oldest pending age ${age}`);
    assert.equal(m.get(key('herald_group_oldest_pending_age_seconds', 'B')), 0);
    assert.ok(
      (m.get('herald_consumer_idle_seconds{topic="orders",group="A",consumer="worker-1"}') ?? -1) >=
        0,
    );
    assert.equal(
      m.get('herald_consumer_pending{topic="orders",group="A",consumer="worker-1"}'),
      20,
    );
    assert.equal(m.get('herald_stream_length{topic="orders",partition="0"}'), 100);
    assert.ok((m.get('herald_stream_memory_bytes{topic="orders",partition="0"}') ?? 0) > 1000);
    assert.equal(m.get('herald_topic_partitions{topic="clicks"}'), 3);
    const clickLengths = [0, 1, 2].map(
      (p) => m.get(`herald_stream_length{topic="clicks",partition="${p}"}`) ?? 0,
    );
    assert.equal(
      clickLengths.reduce((a, b) => a + b),
      30,
    );
    assert.equal(m.get('herald_dead_letters{topic="clicks",partition="2"}'), 1);
    assert.equal(m.get('herald_dead_letters{topic="clicks",partition="0"}'), 0);
    assert.equal(m.get('herald_redis_up'), 1);
    assert.ok((m.get('herald_redis_memory_used_bytes') ?? 0) > 0);
    assert.equal(m.get('herald_capacity_ok'), 1); // the suite's Redis has no maxmemory
    // Counters for PromQL: entries added to the stream, entries delivered to each group.
    assert.equal(m.get('herald_stream_entries_added_total{topic="orders",partition="0"}'), 100);
    assert.equal(m.get(key('herald_group_entries_read_total', 'A')), 60);
    assert.equal(m.get(key('herald_group_entries_read_total', 'B')), 100);
    assert.equal(m.get(key('herald_group_lag_lower_bound', 'A')), 0);
    // B has nothing waiting; A's consumer read a moment ago: neither is stalled.
    assert.equal(m.get(key('herald_group_seconds_since_progress', 'B')), 0);
    const sinceProgress = m.get(key('herald_group_seconds_since_progress', 'A')) ?? -1;
    assert.ok(sinceProgress >= 0 && sinceProgress < 120, `A: ${sinceProgress}`);
    // clicks' group 'stats' has events waiting and no consumer at all: stalled since they were published.
    const first = await backend.conn.send<[string][]>([
      'XRANGE',
      stream(clicks, 0),
      '-',
      '+',
      'COUNT',
      '1',
    ]);
    const [sec, usec] = await backend.conn.send<[string, string]>(['TIME']);
    const waited = (Number(sec) * 1000 + Number(usec) / 1000 - idMs(first[0]?.[0] ?? '0')) / 1000;
    const stalled =
      m.get('herald_group_seconds_since_progress{topic="clicks",partition="0",group="stats"}') ?? 0;
    assert.ok(stalled > 0 && stalled <= waited, `stats: ${stalled} s, first event ${waited} s old`);
    // Bounded work: 3 + 5 per partition + 2 per (partition, group) + 1 per group with unread events.
    // 5 per partition; 2 per (partition, group) and an XRANGE where the group has unread events (A, stats ×3).
    // And 3 ownership reads per partition of each group (A, B: 1 partition; stats: 3).
    assert.equal(
      m.get('herald_exporter_redis_commands'),
      3 + 5 * 4 + 2 * (2 + 3) + 4 + 3 * (1 + 1 + 3),
    );
  });

  void test('lag summed per topic and group, for an autoscaler (KEDA)', async () => {
    const exporter = createExporter({ conn: backend.conn, prefix: backend.prefix, cacheMs: 0 });
    const m = parse(await exporter.metrics());
    assert.equal(m.get('herald_group_topic_lag{topic="orders",group="A"}'), 40);
    assert.equal(m.get('herald_group_topic_lag{topic="orders",group="B"}'), 0);
    // 30 clicks over 3 partitions, none read: the sum of the per-partition lags.
    const perPartition = [0, 1, 2].map(
      (p) => m.get(`herald_group_lag{topic="clicks",partition="${p}",group="stats"}`) ?? -1,
    );
    assert.equal(
      perPartition.reduce((a, b) => a + b),
      30,
    );
    assert.equal(m.get('herald_group_topic_lag{topic="clicks",group="stats"}'), 30);
    assert.equal(m.get('herald_group_topic_lag_lower_bound{topic="clicks",group="stats"}'), 0);
  });

  void test('ordered groups: owner, fencing epoch and lease left per partition; unordered groups show none', async () => {
    const exporter = createExporter({ conn: backend.conn, prefix: backend.prefix, cacheMs: 0 });
    const m = parse(await exporter.metrics());
    const at = (name: string, p: number, owner?: string) =>
      m.get(
        `${name}{topic="clicks",group="stats",partition="${p}"${owner === undefined ? '' : `,owner="${owner}"`}}`,
      );
    assert.equal(at('herald_partition_owned', 0, 'inst-a'), 1);
    assert.equal(at('herald_partition_owned', 1, 'inst-b'), 1);
    assert.equal(at('herald_partition_owned', 2, ''), 0);
    assert.deepEqual(
      [0, 1, 2].map((p) => at('herald_partition_epoch', p)),
      [3, 1, 2],
    );
    const lease = at('herald_partition_lease_seconds', 0) ?? -1;
    assert.ok(lease > 0 && lease <= 60, `lease left ${lease} s`);
    assert.equal(at('herald_partition_lease_seconds', 2), 0);
    // orders' groups A and B have no ownership keys: no ownership samples for them.
    assert.deepEqual(
      [...m.keys()].filter((k) => k.startsWith('herald_partition_') && k.includes('"orders"')),
      [],
    );
  });

  void test('every metric family it declares is emitted, and promtool check metrics passes', async () => {
    await backend.queue('mail').push({ to: 'a@example.com' });
    const exporter = createExporter({ conn: backend.conn, prefix: backend.prefix, cacheMs: 0 });
    const text = await exporter.metrics();
    for (const name of Object.values(EXPORTER_METRICS)) {
      const type = name.endsWith('_total') ? 'counter' : 'gauge';
      assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `${name} missing`);
    }
    assert.equal(promtoolCheck(text), '');
    // The library's own metrics pass too.
    const registry = new Registry();
    const inst = instrument(backend, { registry });
    await backend.publish(defineTopic({ name: 'instrumented' }), { data: { more: true } });
    backend.deliveryHooks.onHandled?.('orders', 'A', 0.02, false);
    assert.equal(promtoolCheck(await registry.metrics()), '');
    inst.stop();
  });

  void test('work queues: pending, processing and dead per queue, as the queue counts them', async () => {
    const prefix = uniquePrefix('exporter-queues');
    const qb = await RedisBackend.connect({ url: testRedisUrl(), prefix });
    try {
      const emails = qb.queue<{ to: string }>('emails');
      await emails.push(Array.from({ length: 7 }, (_, i) => ({ to: `u${i}@example.com` })));
      // Two taken by a worker (not finished), one dead: constructed on the queue's own lists.
      const k = queueKeys(prefix, 'emails');
      await qb.conn.send(['LMOVE', k.pending, k.processing, 'RIGHT', 'LEFT']);
      await qb.conn.send(['LMOVE', k.pending, k.processing, 'RIGHT', 'LEFT']);
      await qb.conn.send(['LMOVE', k.pending, k.dead, 'RIGHT', 'LEFT']);
      await qb.queue('thumbnails').push({ image: 1 });
      const exporter = createExporter({
        conn: qb.conn,
        prefix,
        cacheMs: 0,
        queues: ['idle-queue'], // named: reported even with no keys at all
      });
      const m = parse(await exporter.metrics());
      const counts = await emails.counts();
      assert.deepEqual(counts, { pending: 4, processing: 2, dead: 1 });
      assert.equal(m.get('herald_queue_pending{queue="emails"}'), counts.pending);
      assert.equal(m.get('herald_queue_processing{queue="emails"}'), counts.processing);
      assert.equal(m.get('herald_queue_dead{queue="emails"}'), counts.dead);
      assert.equal(m.get('herald_queue_pending{queue="thumbnails"}'), 1);
      assert.equal(m.get('herald_queue_pending{queue="idle-queue"}'), 0);
      assert.equal(m.get('herald_exporter_queues'), 3);
      assert.equal(m.get('herald_exporter_queue_discovery_complete'), 1);
      // A key that only looks like a queue's is not one.
      await qb.conn.send(['SET', `${prefix}:{q:fake}:other`, '1']);
      const again = parse(await exporter.metrics());
      assert.equal(again.get('herald_queue_pending{queue="fake"}'), undefined);
    } finally {
      await qb.close();
    }
  });

  void test('work queue discovery goes on where the last scrape stopped when the keyspace is large', async () => {
    const prefix = uniquePrefix('exporter-queue-scan');
    const qb = await RedisBackend.connect({ url: testRedisUrl(), prefix });
    try {
      // 30 queues: with one SCAN call of ~1000 keys per scrape over the shared test Redis,
      // a single scrape may not see them all, but a few scrapes do.
      for (let i = 0; i < 30; i++) await qb.queue(`q${i}`).push({ i });
      const finder = new QueueFinder(qb.conn, prefix, { maxScanCalls: 1 });
      let found: readonly string[] = [];
      let complete = false;
      for (let scrape = 0; scrape < 10_000 && !complete; scrape++) {
        const r = await finder.find();
        assert.equal(r.commands, 1);
        ({ names: found, complete } = r);
      }
      assert.ok(complete);
      assert.equal(found.length, 30);
      assert.deepEqual(queueNameOfKey(prefix, `${prefix}:{q:a:b}:dead`), 'a:b');
      assert.equal(queueNameOfKey(prefix, `${prefix}:{q:a}:leases:x`), undefined);
      assert.equal(queueNameOfKey(prefix, `other:{q:a}:dead`), undefined);
    } finally {
      await qb.close();
    }
  });

  void test('collections are cached for cacheMs and shared between concurrent scrapes', async () => {
    const t = defineTopic({ name: 'cached' });
    await backend.publish(t, { data: 1 });
    const exporter = createExporter({
      conn: backend.conn,
      prefix: backend.prefix,
      cacheMs: 60_000,
    });
    const [a, b] = await Promise.all([exporter.metrics(), exporter.metrics()]);
    assert.equal(a, b);
    await backend.publish(t, { data: 2 });
    assert.equal(await exporter.metrics(), a, 'served from the cache');
    const fresh = createExporter({ conn: backend.conn, prefix: backend.prefix, cacheMs: 0 });
    assert.equal(
      parse(await fresh.metrics()).get('herald_stream_length{topic="cached",partition="0"}'),
      2,
    );
  });

  void test('maxTopics bounds the topics exported and says how many were left out', async () => {
    const exporter = createExporter({
      conn: backend.conn,
      prefix: backend.prefix,
      cacheMs: 0,
      maxTopics: 1,
    });
    const m = parse(await exporter.metrics());
    assert.equal(m.get('herald_exporter_topics'), 1);
    assert.ok((m.get('herald_exporter_topics_omitted') ?? 0) >= 2);
    assert.equal([...m.keys()].filter((k) => k.startsWith('herald_topic_partitions{')).length, 1);
  });

  void test('hundreds of topics: one collection costs a bounded number of commands in three round trips', async () => {
    const many = await RedisBackend.connect({
      url: testRedisUrl(),
      prefix: uniquePrefix('exporter-many'),
    });
    try {
      const topics = Array.from({ length: 300 }, (_, i) => defineTopic({ name: `topic-${i}` }));
      await Promise.all(topics.map((t) => many.publishBatch(t, [{ data: 1 }, { data: 2 }])));
      await Promise.all(
        topics.map((t) =>
          many.conn.send(['XGROUP', 'CREATE', partitionKeys(many.prefix, t, 0).stream, 'g', '0']),
        ),
      );
      const exporter = createExporter({ conn: many.conn, prefix: many.prefix, cacheMs: 0 });
      await exporter.metrics(); // warm up
      const t0 = performance.now();
      const m = parse(await exporter.metrics());
      const ms = performance.now() - t0;
      assert.equal(m.get('herald_exporter_topics'), 300);
      // Per group: XPENDING, XINFO CONSUMERS, an XRANGE (unread events), 3 ownership reads.
      assert.equal(m.get('herald_exporter_redis_commands'), 3 + 5 * 300 + 6 * 300);
      assert.equal(m.get('herald_group_lag{topic="topic-299",partition="0",group="g"}'), 2);
      console.log(
        `exporter: 300 topics, 300 groups: ${m.get('herald_exporter_redis_commands')} commands, scrape ${ms.toFixed(0)} ms`,
      );
      assert.ok(ms < 5000, `scrape took ${ms} ms`);
    } finally {
      await many.close();
    }
  });

  void test('serves /metrics and /healthz over HTTP', async () => {
    const exporter = createExporter({ conn: backend.conn, prefix: backend.prefix });
    const served = await serveExporter({ exporter, port: 0 });
    try {
      const res = await fetch(`${served.url}/metrics`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      assert.equal(
        parse(await res.text()).get('herald_group_lag{topic="orders",partition="0",group="A"}'),
        40,
      );
      const health = await fetch(`${served.url}/healthz`);
      assert.equal(await health.text(), 'ok\n');
      assert.equal((await fetch(`${served.url}/other`)).status, 404);
      assert.equal((await fetch(`${served.url}/metrics`, { method: 'POST' })).status, 405);
    } finally {
      await served.close();
    }
  });

  void test('reports herald_redis_up 0 when Redis cannot be read', async () => {
    const server = await startRedisServer({ appendonly: false });
    const conn = await connect({ url: server.url });
    try {
      await server.stop();
      const exporter = createExporter({ conn, cacheMs: 0, timeoutMs: 300, logger: quiet });
      const m = parse(await exporter.metrics());
      assert.equal(m.get('herald_redis_up'), 0);
      assert.equal(m.has('herald_group_lag'), false);
    } finally {
      conn.destroy();
    }
  });
});
