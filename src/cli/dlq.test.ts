import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pairs } from '../core/codec.ts';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { allPartitionKeys, partitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { deadLetterAll, parseJson, runHerald } from './testing.ts';

void describe('herald dlq list|show|replay|purge, run as a user runs them', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('cli-dlq');
  const payments = defineTopic({ name: 'payments', partitions: 2 });
  let backend: RedisBackend;
  const g = ['--url', url, '--prefix', prefix];

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix });
    await backend.publishBatch(
      payments,
      [1, 2, 3, 4, 5, 6].map((n) => ({ data: { n }, id: `p-${n}`, key: `k${n}` })),
    );
    // An entry no Herald consumer can decode: each group dead-letters it as 'undecodable'.
    const p0 = partitionKeys(prefix, payments, 0);
    await backend.conn.send(['XADD', p0.stream, '*', 'garbage', 'yes']);
    await deadLetterAll(backend, payments, 'billing', () => true, 7);
    await deadLetterAll(backend, payments, 'shipping', (d) => d.n % 2 === 0, 4);
  });

  after(async () => {
    await backend.close();
  });

  /** The group of every dead letter left, read from Redis directly. */
  async function deadLetterGroups(): Promise<string[]> {
    const out: string[] = [];
    for (const p of allPartitionKeys(prefix, payments)) {
      const rows = await backend.conn.send<[string, string[]][]>(['XRANGE', p.dlq, '-', '+']);
      out.push(...rows.map(([, f]) => pairs(f)['herald-dlq-group'] ?? ''));
    }
    return out;
  }

  void test('list shows every dead letter as a table; filters and --json narrow it', async () => {
    const all = await runHerald(['dlq', 'list', 'payments', ...g]);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split('\n');
    assert.match(
      lines[0] ?? '',
      /^POSITION +PART +GROUP +EVENT ID +REASON +ATTEMPTS +DEAD-LETTERED +ERROR$/,
    );
    assert.equal(lines.filter((l) => /^\d+-\d+ /.test(l)).length, 11);
    assert.equal(lines.at(-1), '11 dead letter(s)');

    const shipping = await runHerald([
      'dlq',
      'list',
      'payments',
      ...g,
      '--group',
      'shipping',
      '--json',
    ]);
    const rows =
      parseJson<{ group: string; eventId?: string; reason: string; data: unknown }[]>(shipping);
    assert.equal(rows.length, 4);
    assert.ok(rows.every((r) => r.group === 'shipping'));
    assert.deepEqual(
      rows
        .filter((r) => r.reason === 'handler-failed')
        .map((r) => r.eventId)
        .sort(),
      ['p-2', 'p-4', 'p-6'],
    );

    const undecodable = await runHerald([
      'dlq',
      'list',
      'payments',
      ...g,
      '--reason',
      'undecodable',
      '--json',
    ]);
    const u = parseJson<{ group: string }[]>(undecodable);
    assert.deepEqual(u.map((r) => r.group).sort(), ['billing', 'shipping']);
  });

  void test('show prints one dead letter in full, by event id or position', async () => {
    const byId = await runHerald(['dlq', 'show', 'payments', 'p-2', ...g, '--group', 'shipping']);
    assert.equal(byId.code, 0, byId.stderr);
    assert.match(byId.stdout, /group +shipping/);
    assert.match(byId.stdout, /event id +p-2/);
    assert.match(byId.stdout, /error +Error: shipping refused \{"n":2\}/);
    assert.match(byId.stdout, /data:\n {4}\{\n {6}"n": 2\n {4}\}/);
    // The compact envelope's `ce` is shown as the type and source it holds, the payload apart.
    assert.match(byId.stdout, /fields:\n(?: {4}.*\n)* {4}type: payments\n {4}source: /);
    assert.doesNotMatch(byId.stdout, / {4}ce: /);

    const json = await runHerald([
      'dlq',
      'show',
      'payments',
      'p-2',
      ...g,
      '--group',
      'billing',
      '--json',
    ]);
    const [letter] = parseJson<{ position: string; data: unknown; attempts: number }[]>(json);
    assert.deepEqual(letter?.data, { n: 2 });
    assert.equal(letter?.attempts, 1);

    const byPosition = await runHerald([
      'dlq',
      'show',
      'payments',
      letter?.position ?? '',
      ...g,
      '--json',
    ]);
    assert.equal(parseJson<{ position: string }[]>(byPosition)[0]?.position, letter?.position);

    const missing = await runHerald(['dlq', 'show', 'payments', 'p-404', ...g]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^herald: no dead letter at position or with event id 'p-404' in 'payments' .*\n$/,
    );
  });

  void test("replay puts a group's dead letters back on the stream, for that group only", async () => {
    const r = await runHerald(['dlq', 'replay', 'payments', ...g, '--group', 'shipping', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseJson(r), {
      topic: 'payments',
      replayed: 4,
      matched: 4,
      interrupted: false,
    });
    assert.match(r.stderr, /replayed 4\/4/);

    const replayed: Record<string, string>[] = [];
    for (const p of allPartitionKeys(prefix, payments)) {
      const rows = await backend.conn.send<[string, string[]][]>(['XRANGE', p.stream, '-', '+']);
      replayed.push(
        ...rows.map(([, f]) => pairs(f)).filter((f) => f['herald-replay-for'] !== undefined),
      );
    }
    assert.equal(replayed.length, 4);
    assert.ok(replayed.every((f) => f['herald-replay-for'] === 'shipping'));
    const left = await deadLetterGroups();
    assert.equal(left.length, 7);
    assert.ok(left.every((group) => group === 'billing'));
  });

  void test('purge asks for --yes when not interactive, then deletes what the filters select', async () => {
    const refused = await runHerald(['dlq', 'purge', 'payments', ...g]);
    assert.equal(refused.code, 1);
    assert.equal(
      refused.stderr,
      "herald: purge would delete 7 dead letter(s) of 'payments' for good: add --yes to confirm\n",
    );

    const one = await runHerald([
      'dlq',
      'purge',
      'payments',
      ...g,
      '--reason',
      'undecodable',
      '--yes',
    ]);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, "purged 1 dead letter(s) of 'payments' (reason undecodable)\n");

    const rest = await runHerald(['dlq', 'purge', 'payments', ...g, '--yes', '--json']);
    assert.deepEqual(parseJson(rest), { topic: 'payments', purged: 6 });
    assert.deepEqual(await deadLetterGroups(), []);
  });
});
