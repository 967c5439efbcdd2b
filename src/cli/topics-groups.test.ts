import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defineTopic } from '../core/topic.ts';
import type { GroupInfo, TopicInfo } from '../ops/inspect.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { parseJson, runHerald } from './testing.ts';

void describe('herald topics and groups, run as a user runs them', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('cli-topics');
  const orders = defineTopic({ name: 'orders', partitions: 2 });
  const emails = defineTopic({ name: 'emails' });
  const g = ['--url', url, '--prefix', prefix];
  let backend: RedisBackend;
  const p0 = partitionKeys(prefix, orders, 0);
  const p1 = partitionKeys(prefix, orders, 1);
  let len0 = 0;
  let len1 = 0;

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix });
    await backend.publishBatch(
      orders,
      Array.from({ length: 10 }, (_, i) => ({ data: { i }, key: `customer-${i}` })),
    );
    await backend.publishBatch(
      emails,
      [1, 2, 3].map((i) => ({ data: { i } })),
    );
    len0 = await backend.conn.send<number>(['XLEN', p0.stream]);
    len1 = await backend.conn.send<number>(['XLEN', p1.stream]);
    assert.ok(len0 >= 3 && len1 >= 1, `keys should spread events: ${len0}/${len1}`);

    // 'audit' is a Herald consumer that has handled everything.
    let handled = 0;
    const sub = backend.subscribe(orders, { group: 'audit', startFrom: 'beginning' }, () => {
      handled++;
    });
    await sub.ready;
    await waitFor(() => handled === 10, { message: 'audit handled all' });
    await sub.close();

    // 'billing' is a lagging group, built by hand so every figure is known:
    // worker-1 read 3 events of partition 0 and acknowledged the first only.
    for (const p of [p0, p1])
      await backend.conn.send(['XGROUP', 'CREATE', p.stream, 'billing', '0']);
    const read = await backend.conn.send<Record<string, [string, string[]][]>>([
      'XREADGROUP',
      'GROUP',
      'billing',
      'worker-1',
      'COUNT',
      '3',
      'STREAMS',
      p0.stream,
      '>',
    ]);
    const first = Object.values(read)[0]?.[0]?.[0] ?? '';
    await backend.conn.send(['XACK', p0.stream, 'billing', first]);
  });

  after(async () => {
    await backend.close();
  });

  void test('topics lists each topic with partitions, length, dead letters and groups', async () => {
    const r = await runHerald(['topics', ...g]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^TOPIC +PARTITIONS +LENGTH +MEMORY +DEAD LETTERS +GROUPS$/);
    assert.match(lines[1] ?? '', /^emails +1 +3 +[\d.]+ (B|KiB) +0 +-$/);
    assert.match(lines[2] ?? '', /^orders +2 +10 +[\d.]+ (B|KiB) +0 +audit, billing$/);
    assert.equal(lines.length, 3);

    const json = parseJson<TopicInfo[]>(await runHerald(['topics', ...g, '--json']));
    const o = json.find((t) => t.name === 'orders');
    assert.deepEqual(
      [o?.partitions, o?.length, o?.groups, o?.partitionInfo.map((p) => p.length)],
      [2, 10, ['audit', 'billing'], [len0, len1]],
    );
    assert.ok((o?.memoryBytes ?? 0) > 0);
  });

  void test('topics under a prefix with none says so', async () => {
    const r = await runHerald(['topics', '--url', url, '--prefix', uniquePrefix('empty')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^no topics under prefix 't:empty:\w+'/);
  });

  void test("groups shows each group's lag, pending, oldest pending age and consumers", async () => {
    const r = await runHerald(['groups', 'orders', ...g]);
    assert.equal(r.code, 0, r.stderr);
    const [head, audit, billing, blank, consumersHead, ...consumers] = r.stdout
      .trimEnd()
      .split('\n');
    assert.match(head ?? '', /^GROUP +LAG +PENDING +OLDEST PENDING +CONSUMERS$/);
    // A closed Herald subscription removes its consumer from the group.
    assert.match(audit ?? '', /^audit +0 +0 +- +0$/);
    // billing: everything but the 3 read is unread; 2 of those 3 are pending.
    const lag = len0 + len1 - 3;
    assert.match(
      billing ?? '',
      new RegExp(`^billing +${lag} +2 +(?:[\\d.]+ (?:ms|s)|\\d+m(?: \\d+s)?) +1$`),
    );
    assert.equal(blank, '');
    assert.match(consumersHead ?? '', /^GROUP +CONSUMER +PENDING +IDLE$/);
    assert.ok(
      consumers.some((l) => /^billing +worker-1 +2 +(?:[\d.]+ (?:ms|s)|\d+m(?: \d+s)?)$/.test(l)),
      consumers.join('\n'),
    );

    const json = parseJson<GroupInfo[]>(await runHerald(['groups', 'orders', ...g, '--json']));
    const b = json.find((x) => x.group === 'billing');
    assert.deepEqual([b?.lag, b?.pending], [lag, 2]);
    // Per partition, the figures agree with XINFO GROUPS.
    for (const p of b?.partitions ?? []) {
      const key = p.partition === 0 ? p0.stream : p1.stream;
      const info = await backend.conn.send<{ name: string; lag: number; pending: number }[]>([
        'XINFO',
        'GROUPS',
        key,
      ]);
      const x = info.find((i) => i.name === 'billing');
      assert.deepEqual([p.lag, p.pending], [x?.lag, x?.pending]);
    }

    const byPart = await runHerald(['groups', 'orders', ...g, '--by-partition']);
    assert.equal(
      byPart.stdout.split('\n').filter((l) => /^(audit|billing) +[01] /.test(l)).length,
      4,
    );
  });

  void test('groups of an unknown topic is one error line naming the known ones', async () => {
    const r = await runHerald(['groups', 'order', ...g]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `herald: unknown topic 'order' under prefix '${prefix}': known topics are emails, orders\n`,
    );
  });

  void test('groups of a topic without groups says so', async () => {
    const r = await runHerald(['groups', 'emails', ...g]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "topic 'emails' has no consumer groups\n");
  });
});
