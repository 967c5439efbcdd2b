import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { storedEnvelope } from '../test-support/envelope.ts';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { allPartitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { parseJsonLines, runHerald, spawnHerald } from './testing.ts';

void describe('herald publish and tail, run as a user runs them', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('cli-pub');
  const orders = defineTopic({ name: 'orders', partitions: 2 });
  const audit = defineTopic({ name: 'audit' });
  let backend: RedisBackend;
  const g = ['--url', url, '--prefix', prefix];

  /** Every entry of a topic, oldest first per partition, as field records. */
  async function entries(topicName: string, partitions: number): Promise<Record<string, string>[]> {
    const topic = defineTopic({ name: topicName, partitions });
    const out: Record<string, string>[] = [];
    for (const p of allPartitionKeys(prefix, topic)) {
      const rows = await backend.conn.send<[string, string[]][]>(['XRANGE', p.stream, '-', '+']);
      out.push(...rows.map(([, flat]) => storedEnvelope(flat)));
    }
    return out;
  }

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix });
    // Registers both topics, as an application would.
    await backend.publish(audit, { data: { boot: true } });
    await backend.publish(orders, { data: { n: 0 }, key: 'seed' });
  });

  after(async () => {
    await backend.close();
  });

  void test('publish from an argument stores the event with its attributes; --json receipts parse', async () => {
    const first = await runHerald([
      'publish',
      'orders',
      '{"n":1}',
      ...g,
      '--type',
      'order.created',
      '--key',
      'k1',
      '--id',
      'evt-1',
      '--header',
      'tenant=acme',
    ]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /^published evt-1 to 'orders' \(partition \d, position \d+-\d+\)\n$/,
    );

    const stored = (await entries('orders', 2)).filter((e) => e.id === 'evt-1');
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.type, 'order.created');
    assert.equal(stored[0]?.partitionkey, 'k1');
    assert.deepEqual(JSON.parse(stored[0]?.data ?? ''), { n: 1 });
    assert.deepEqual(JSON.parse(stored[0]?.headers ?? ''), { tenant: 'acme' });

    // The same id again is deduplicated, and says so.
    const again = await runHerald([
      'publish',
      'orders',
      '{"n":1}',
      ...g,
      '--key',
      'k1',
      '--id',
      'evt-1',
      '--json',
    ]);
    assert.equal(again.code, 0, again.stderr);
    const [receipt] = parseJsonLines<{ id: string; duplicate: boolean; topic: string }>(again);
    assert.deepEqual([receipt?.id, receipt?.topic, receipt?.duplicate], ['evt-1', 'orders', true]);
    assert.equal((await entries('orders', 2)).filter((e) => e.id === 'evt-1').length, 1);
  });

  void test('publish reads one JSON payload per stdin line, skipping blank lines', async () => {
    const before = (await entries('audit', 1)).length;
    const r = await runHerald(['publish', 'audit', ...g], {
      input: '{"line":1}\n{"line":2}\n\n{"line":3}\n',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "published 3 event(s) to 'audit'\n");
    const all = await entries('audit', 1);
    assert.equal(all.length, before + 3);
    assert.deepEqual(
      all.slice(-3).map((e) => JSON.parse(e.data ?? '') as unknown),
      [{ line: 1 }, { line: 2 }, { line: 3 }],
    );
  });

  void test('a bad stdin line stops the run: the report names the lines stored and the line to resume from', async () => {
    const before = (await entries('audit', 1)).length;
    const r = await runHerald(['publish', 'audit', ...g], {
      input: '{"ok":1}\nnot json\n{"ok":3}\n',
    });
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^stored lines 1 in 'audit': 1 event\(s\)\n/);
    assert.match(r.stdout, /\nline 2: not stored, invalid: the line is not valid JSON /);
    assert.match(
      r.stdout,
      /\nto resume: fix line 2, then run the same command again with --from-line 2/,
    );
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(
      r.stderr,
      /^herald: stopped at line 2: the line is not valid JSON .*; fix line 2, then resume with --from-line 2\n$/,
    );
    assert.equal((await entries('audit', 1)).length, before + 1);
  });

  void test('an unknown topic is one error line naming the known topics; --create registers it', async () => {
    const r = await runHerald(['publish', 'ordres', '{}', ...g]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `herald: unknown topic 'ordres' under prefix '${prefix}': known topics are audit, orders\n`,
    );

    const created = await runHerald([
      'publish',
      'invoices',
      '{"total":3}',
      ...g,
      '--create',
      '--partitions',
      '3',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const raw = await backend.conn.send<string>(['HGET', `${prefix}:topics`, 'invoices']);
    assert.equal((JSON.parse(raw) as { partitions: number }).partitions, 3);
  });

  void test('tail prints the events published after it started, and exits 0 on Ctrl-C', async () => {
    await backend.publish(orders, { data: { before: true } });
    const tail = spawnHerald(['tail', 'orders', ...g]);
    try {
      await tail.waitForOutput('stderr', (s) => s.includes("tailing 'orders'"));
      // Different keys spread the events over both partitions.
      for (let i = 1; i <= 4; i++) {
        await backend.publish(orders, { data: { live: i }, key: `k${i}`, type: 'order.live' });
      }
      await tail.waitForOutput('stdout', (s) => s.trimEnd().split('\n').length >= 4);
      tail.child.kill('SIGINT');
      const r = await tail.exited;
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 4, r.stdout);
      assert.ok(!r.stdout.includes('"before"'));
      assert.deepEqual(lines.map((l) => Number(/"live":(\d)/.exec(l)?.[1])).sort(), [1, 2, 3, 4]);
      assert.ok(
        lines.every((l) => /^\S+Z {2}[01]\/\d+-\d+ {2}order\.live {2}key=k\d {2}\{/.test(l)),
        r.stdout,
      );
    } finally {
      tail.kill();
    }
  });

  void test('tail --from beginning --count --json prints parseable events and exits by itself', async () => {
    const r = await runHerald([
      'tail',
      'audit',
      ...g,
      '--from',
      'beginning',
      '--count',
      '2',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const events = parseJsonLines<{ topic: string; partition: number; data: unknown; id: string }>(
      r,
    );
    assert.equal(events.length, 2);
    assert.deepEqual(events[0]?.data, { boot: true });
    assert.deepEqual(events[1]?.data, { line: 1 });
    assert.ok(events.every((e) => e.topic === 'audit' && e.partition === 0 && e.id.length > 0));
  });

  void test('tail --json piped into publish --event copies events with their ids', async () => {
    const tailed = await runHerald([
      'tail',
      'orders',
      ...g,
      '--from',
      '0',
      '--count',
      '3',
      '--json',
    ]);
    assert.equal(tailed.code, 0, tailed.stderr);
    const copied = await runHerald(
      ['publish', 'orders-copy', ...g, '--event', '--create', '--json'],
      {
        input: tailed.stdout,
      },
    );
    assert.equal(copied.code, 0, copied.stderr);
    const source = parseJsonLines<{ id: string; data: unknown }>(tailed);
    const copies = await entries('orders-copy', 1);
    assert.deepEqual(
      copies.map((e) => [e.id, JSON.parse(e.data ?? '') as unknown]),
      source.map((e) => [e.id, e.data]),
    );
  });

  void test('publish writes the compact layout, or the fields layout when asked; a bad layout is refused', async () => {
    // A topic of its own: the tests above count the events of 'audit' and list the known topics.
    const stream = allPartitionKeys(prefix, defineTopic({ name: 'layouts' }))[0]?.stream ?? '';
    const last = async (): Promise<string[]> => {
      const rows = await backend.conn.send<[string, string[]][]>([
        'XREVRANGE',
        stream,
        '+',
        '-',
        'COUNT',
        '1',
      ]);
      return rows[0]?.[1] ?? [];
    };
    const compact = await runHerald([
      'publish',
      'layouts',
      '{"k":1}',
      ...g,
      '--create',
      '--type',
      'l.x',
    ]);
    assert.equal(compact.code, 0, compact.stderr);
    const [field, value] = await last();
    assert.equal(field, 'ce');
    const [type, source, data] = JSON.parse(value ?? '') as [string, string, unknown];
    assert.deepEqual([type, typeof source, data], ['l.x', 'string', { k: 1 }]);
    const fields = await runHerald([
      'publish',
      'layouts',
      '{"k":2}',
      ...g,
      '--envelope-layout',
      'fields',
    ]);
    assert.equal(fields.code, 0, fields.stderr);
    assert.deepEqual((await last()).slice(0, 4), ['specversion', '1.0', 'type', 'layouts']);
    const bad = await runHerald([
      'publish',
      'layouts',
      '{"k":3}',
      ...g,
      '--envelope-layout',
      'json',
    ]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /must be 'compact' or 'fields'/);
  });
});
