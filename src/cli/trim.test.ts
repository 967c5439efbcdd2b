import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { trimTopic } from '../ops/retention.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { parseJson, runHerald } from './testing.ts';

void describe('herald trim, run as a user runs it', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('cli-trim');
  const events = defineTopic({ name: 'events' });
  const old = defineTopic({ name: 'old' });
  const g = ['--url', url, '--prefix', prefix];
  let backend: RedisBackend;
  const stream = partitionKeys(prefix, events, 0).stream;
  let ids: string[] = [];

  const xlen = (key: string): Promise<number> => backend.conn.send<number>(['XLEN', key]);

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix });
    const receipts = await backend.publishBatch(
      events,
      Array.from({ length: 20 }, (_, i) => ({ data: { i } })),
    );
    ids = receipts.map((r) => r.position);
    // Group 'slow' read the first 8 events and acknowledged 5: events 6-8 are
    // pending, 9-20 unread. It still needs everything from event 6 on.
    await backend.conn.send(['XGROUP', 'CREATE', stream, 'slow', '0']);
    await backend.conn.send([
      'XREADGROUP',
      'GROUP',
      'slow',
      'c',
      'COUNT',
      '8',
      'STREAMS',
      stream,
      '>',
    ]);
    await backend.conn.send(['XACK', stream, 'slow', ...ids.slice(0, 5)]);
  });

  after(async () => {
    await backend.close();
  });

  void test('--dry-run says what would go and what groups keep, and removes nothing', async () => {
    const r = await runHerald(['trim', 'events', ...g, '--max-len', '5', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "dry run: would trim 5 event(s) of 'events' (keep at most 5 per partition); nothing was removed\n" +
        'would keep 10 event(s) the rules would remove: consumer groups have not read or acknowledged them ' +
        '(see herald groups events; --unsafe trims them anyway)\n',
    );
    assert.equal(await xlen(stream), 20);
    const unsafe = await runHerald([
      'trim',
      'events',
      ...g,
      '--max-len',
      '0',
      '--unsafe',
      '--dry-run',
    ]);
    assert.equal(unsafe.code, 0, unsafe.stderr);
    assert.match(unsafe.stdout, /^dry run: would trim 20 event\(s\)/);
    assert.equal(await xlen(stream), 20);
  });

  void test('--dry-run --json counts per partition, and the real trim then removes exactly that', async () => {
    const spread = defineTopic({ name: 'spread', partitions: 3 });
    await backend.publishBatch(
      spread,
      Array.from({ length: 30 }, (_, i) => ({ data: { i }, key: `k${i}` })),
    );
    const keys = [0, 1, 2].map((p) => partitionKeys(prefix, spread, p).stream);
    const before = await Promise.all(keys.map(xlen));
    const dry = await runHerald(['trim', 'spread', ...g, '--max-len', '2', '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    const report = parseJson<{
      dryRun: boolean;
      wouldTrim: number;
      partitions: { partition: number; wouldTrim: number; wouldTrimIsLowerBound: boolean }[];
    }>(dry);
    assert.equal(report.dryRun, true);
    assert.deepEqual(
      report.partitions.map((p) => p.wouldTrim),
      before.map((n) => Math.max(0, n - 2)),
    );
    assert.ok(report.partitions.every((p) => !p.wouldTrimIsLowerBound));
    assert.deepEqual(await Promise.all(keys.map(xlen)), before, 'nothing removed');
    const real = await runHerald(['trim', 'spread', ...g, '--max-len', '2', '--json']);
    assert.equal(parseJson<{ trimmed: number }>(real).trimmed, report.wouldTrim);
  });

  void test('a dry run past the scan limit on both sides of the cut says its count is a lower bound', async () => {
    const wide = defineTopic({ name: 'wide' });
    const receipts = await backend.publishBatch(
      wide,
      Array.from({ length: 20 }, (_, i) => ({ data: { i } })),
    );
    const wideStream = partitionKeys(prefix, wide, 0).stream;
    // A group that read and acknowledged 10: the safe cut is at the 11th event, 10 on each side.
    await backend.conn.send(['XGROUP', 'CREATE', wideStream, 'half', '0']);
    await backend.conn.send([
      'XREADGROUP',
      'GROUP',
      'half',
      'c',
      'COUNT',
      '10',
      'STREAMS',
      wideStream,
      '>',
    ]);
    await backend.conn.send([
      'XACK',
      wideStream,
      'half',
      ...receipts.slice(0, 10).map((r) => r.position),
    ]);
    const dry = (scanLimit: number) =>
      trimTopic(backend.conn, prefix, 'wide', {
        maxAgeMs: 1,
        now: Date.now() + 60_000,
        scanLimit,
        dryRun: true,
      });
    const [exact] = await dry(100);
    assert.equal(exact?.trimmed, 10);
    assert.equal(exact?.atLeast, false);
    const [bounded] = await dry(3);
    assert.equal(bounded?.trimmed, 3);
    assert.equal(bounded?.atLeast, true);
    assert.equal(await xlen(wideStream), 20);
  });

  void test('by default it trims only what every group is done with, and says what it kept', async () => {
    const r = await runHerald(['trim', 'events', ...g, '--max-len', '5']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "trimmed 5 event(s) of 'events' (keep at most 5 per partition)\n" +
        'kept 10 event(s) the rules would remove: consumer groups have not read or acknowledged them ' +
        '(see herald groups events; --unsafe trims them anyway)\n',
    );
    assert.equal(await xlen(stream), 15);
    const first = await backend.conn.send<[string, string[]][]>([
      'XRANGE',
      stream,
      '-',
      '+',
      'COUNT',
      '1',
    ]);
    assert.equal(first[0]?.[0], ids[5], 'the oldest pending event of the lagging group is kept');
    const pending = await backend.conn.send<[number, ...unknown[]]>(['XPENDING', stream, 'slow']);
    assert.equal(pending[0], 3);
  });

  void test('--unsafe trims past the lagging group and reports what it lost', async () => {
    const r = await runHerald(['trim', 'events', ...g, '--max-len', '5', '--unsafe', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = parseJson<{
      trimmed: number;
      keptForGroups: number;
      trimmedUnacked: number;
      partitions: { losses: { group: string; unread: number; pending: number }[] }[];
    }>(r);
    assert.deepEqual([out.trimmed, out.keptForGroups, out.trimmedUnacked], [10, 0, 10]);
    assert.deepEqual(out.partitions[0]?.losses, [{ group: 'slow', unread: 7, pending: 3 }]);
    assert.equal(
      r.stderr,
      "warning: group 'slow' lost 10 event(s) it had not acknowledged (7 unread, 3 pending)\n",
    );
    assert.equal(await xlen(stream), 5);
  });

  void test('--max-age removes events older than the age, and only those', async () => {
    const oldStream = partitionKeys(prefix, old, 0).stream;
    const now = Date.now();
    // Entries written by hand with old ids, then the topic is registered by a publish.
    for (const [i, agoMs] of [7_200_000, 7_100_000, 7_000_000, 1_800_000].entries()) {
      await backend.conn.send(['XADD', oldStream, `${now - agoMs}-0`, 'data', String(i)]);
    }
    await backend.publish(old, { data: { fresh: true } });
    const r = await runHerald(['trim', 'old', ...g, '--max-age', '1h']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "trimmed 3 event(s) of 'old' (keep younger than 1h)\n");
    assert.equal(await xlen(oldStream), 2);
  });

  void test('without a rule it is one error line', async () => {
    const r = await runHerald(['trim', 'events', ...g]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'herald: say what to keep: --max-len <n> and/or --max-age <duration>\n');
  });
});
