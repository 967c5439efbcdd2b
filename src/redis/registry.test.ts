/**
 * The topic registry as a trust boundary: malformed or squatted records are reported and
 * skipped (herald topics, doctor and the exporter keep working), partitions are bounded,
 * an administrator declares topics (herald topics create, --replace), and a topic bound
 * to a foreign stream key is trimmed only when told --foreign-stream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { defineTopic, MAX_PARTITIONS } from '../core/topic.ts';
import { parseJson, runHerald } from '../cli/testing.ts';
import { snapshot } from '../ops/inspect.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';
import { registryKey } from './keys.ts';
import { declareTopic, readRegistry, type RegistryProblem } from './registry.ts';

void describe('the topic registry', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('reg');
  const g = ['--url', url, '--prefix', prefix];
  let backend: RedisBackend;

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix, logger: silentLogger });
  });

  after(async () => {
    await backend.close();
  });

  void test('malformed and squatted records are reported and skipped; topics, doctor and the exporter keep working', async () => {
    const orders = defineTopic({ name: 'orders', partitions: 2 });
    await backend.publish(orders, { data: { n: 1 } });
    const key = registryKey(prefix);
    const bad: Record<string, string> = {
      junk: 'not json',
      list: '[1,2]',
      empty: '{}',
      huge: JSON.stringify({ name: 'huge', partitions: 1024, codec: 'envelope' }),
      zipped: JSON.stringify({ name: 'zipped', partitions: 1, codec: 'zip' }),
      // A squatter writing another topic's name under its own field, or vice versa.
      payments: JSON.stringify({ name: 'orders', partitions: 1, codec: 'envelope' }),
      spread: JSON.stringify({ name: 'spread', partitions: 2, codec: 'raw', streamKey: 'k' }),
    };
    for (const [field, value] of Object.entries(bad)) {
      await backend.conn.send(['HSET', key, field, value]);
    }

    const { records, problems } = await readRegistry(backend.conn, prefix);
    assert.deepEqual(
      records.map((r) => r.name),
      ['orders'],
    );
    const reasons = new Map(problems.map((p: RegistryProblem) => [p.field, p.reason]));
    assert.deepEqual([...reasons.keys()].sort(), Object.keys(bad).sort());
    assert.match(reasons.get('huge') ?? '', new RegExp(`from 1 to ${MAX_PARTITIONS}`));
    assert.match(reasons.get('payments') ?? '', /names topic 'orders'/);

    const topics = await runHerald(['topics', '--json', ...g]);
    assert.equal(topics.code, 0, topics.stderr);
    assert.deepEqual(
      parseJson<{ name: string }[]>(topics).map((t) => t.name),
      ['orders'],
    );
    assert.match(topics.stderr, /registry record 'empty' skipped/);

    const doctor = await runHerald(['doctor', ...g]);
    assert.doesNotMatch(doctor.stdout, /could not run/, doctor.stdout);

    const snap = await snapshot(backend.conn, prefix);
    assert.deepEqual(
      snap.topics.map((t) => t.name),
      ['orders'],
    );
  });

  void test('partitions are bounded', async () => {
    assert.throws(
      () => defineTopic({ name: 'wide', partitions: MAX_PARTITIONS + 1 }),
      (e: unknown) => e instanceof ConfigError,
    );
    const r = await runHerald(['topics', 'create', 'wide', '--partitions', '1024', ...g]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`from 1 to ${MAX_PARTITIONS}`));
  });

  void test('herald topics create declares, refuses a different declaration, and --replace overwrites a squatted record', async () => {
    const created = await runHerald(['topics', 'create', 'invoices', '--partitions', '4', ...g]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /topic 'invoices' declared with 4 partition\(s\)/);
    const again = await runHerald(['topics', 'create', 'invoices', '--partitions', '4', ...g]);
    assert.match(again.stdout, /already declared/);
    const other = await runHerald(['topics', 'create', 'invoices', '--partitions', '2', ...g]);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /exists with 4 partition\(s\)/);

    // A squatter declared 'refunds' with the wrong layout: the real service fails loudly ...
    await backend.conn.send([
      'HSET',
      registryKey(prefix),
      'refunds',
      JSON.stringify({ name: 'refunds', partitions: 1, codec: 'envelope', streamKey: 'stolen' }),
    ]);
    const refunds = defineTopic({ name: 'refunds', partitions: 3 });
    await assert.rejects(
      backend.publish(refunds, { data: 1 }),
      /exists with 1 partition\(s\) on stream 'stolen'/,
    );
    // ... until an administrator rewrites the record.
    const fixed = await runHerald([
      'topics',
      'create',
      'refunds',
      '--partitions',
      '3',
      '--replace',
      ...g,
    ]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /replaced/);
    const fresh = await RedisBackend.connect({ url, prefix, logger: silentLogger });
    try {
      await fresh.publish(refunds, { data: 1 });
    } finally {
      await fresh.close();
    }
  });

  void test('a topic bound to a foreign stream key is trimmed only with --foreign-stream', async () => {
    const foreign = `${prefix}:someone-elses-stream`;
    for (let i = 0; i < 5; i++) await backend.conn.send(['XADD', foreign, '*', 'f', String(i)]);
    const bound = await runHerald([
      'topics',
      'create',
      'legacy',
      '--stream-key',
      foreign,
      '--codec',
      'raw',
      ...g,
    ]);
    assert.equal(bound.code, 0, bound.stderr);
    assert.match(
      bound.stdout,
      new RegExp(`on stream '${foreign.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}'`),
    );

    const refused = await runHerald(['trim', 'legacy', '--max-len', '0', ...g]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /bound to the foreign stream .* --foreign-stream/);
    assert.equal(await backend.conn.send(['XLEN', foreign]), 5, 'nothing was trimmed');

    const trimmed = await runHerald(['trim', 'legacy', '--max-len', '1', '--foreign-stream', ...g]);
    assert.equal(trimmed.code, 0, trimmed.stderr);
    assert.equal(await backend.conn.send(['XLEN', foreign]), 1);
  });

  void test('declareTopic is idempotent for the same declaration', async () => {
    const t = defineTopic({ name: 'audit', partitions: 2 });
    assert.equal(await declareTopic(backend.conn, prefix, t), 'created');
    assert.equal(await declareTopic(backend.conn, prefix, t), 'exists');
  });
});
