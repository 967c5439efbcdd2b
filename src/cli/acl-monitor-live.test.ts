/**
 * `herald acl`: the line it prints, and a `--monitor` user (applied with --apply) running
 * tail and the exporter without Redis refusing it anything; it cannot publish or declare.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../core/logger.ts';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { declareTopic } from '../redis/registry.ts';
import { toMap } from '../redis/replies.ts';
import { testRedisUrl, uniquePrefix, urlWithUser } from '../test-support/redis.ts';
import { parseJsonLines, runHerald, spawnHerald } from './testing.ts';

const PASSWORD = 'monitor-test-password';

void describe('herald acl and a --monitor user', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('monlive');
  const tag = prefix.slice(prefix.lastIndexOf(':') + 1);
  const user = `herald-monitor-live-${tag}`;
  const orders = defineTopic<{ n: number }>({ name: 'orders', partitions: 2 });
  let admin: RedisBackend;
  let monitorUrl: string;

  async function refusals(): Promise<string[]> {
    const log = await admin.conn.send<unknown[]>(['ACL', 'LOG', '1000']);
    return log
      .map(toMap)
      .filter((e) => e.username === user)
      .map((e) => `${String(e.reason)} ${String(e.object)}`);
  }

  before(async () => {
    admin = await RedisBackend.connect({ url, prefix, logger: silentLogger });
    await declareTopic(admin.conn, prefix, orders);
    for (let n = 0; n < 4; n++) await admin.publish(orders, { data: { n }, key: `k${n}` });
    monitorUrl = urlWithUser(url, user, PASSWORD);
  });

  after(async () => {
    await admin.conn.send(['ACL', 'DELUSER', user]);
    await admin.close();
  });

  void test('prints one ACL SETUSER line without eval, function|load or @dangerous', async () => {
    const r = await runHerald([
      'acl',
      '--user',
      'orders-api',
      '--publish',
      'orders',
      '--consume',
      'payments:billing',
      '--listen',
      'orders.*',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stdout);
    const line = lines[0] ?? '';
    assert.match(line, /^ACL SETUSER orders-api on resetkeys resetchannels clearselectors -@all /);
    assert.match(line, /"\(~herald:\{orders:\[0-9\]\*\}:stream \+xadd\)"/);
    assert.match(line, /&herald:n:orders\.\*/);
    for (const forbidden of [/eval/i, /function/i, /@dangerous/, /\+@all/, / ~\*/, /flushall/i]) {
      assert.doesNotMatch(line, forbidden);
    }
    const none = await runHerald(['acl', '--user', 'x']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /grant at least one right/);
  });

  void test('a --monitor user runs tail and the exporter, and cannot publish or declare topics', async () => {
    const g = ['--url', url, '--prefix', prefix];
    const applied = await runHerald(['acl', '--user', user, '--monitor', '--apply', ...g]);
    assert.equal(applied.code, 0, applied.stderr);
    await admin.conn.send(['ACL', 'SETUSER', user, `>${PASSWORD}`]);
    const m = ['--url', monitorUrl, '--prefix', prefix];

    const tail = spawnHerald(['tail', 'orders', ...m]);
    try {
      await tail.waitForOutput('stderr', (s) => s.includes("tailing 'orders'"));
      await admin.publish(orders, { data: { n: 99 }, key: 'tail' });
      await tail.waitForOutput('stdout', (s) => s.includes('"n":99'));
      tail.child.kill('SIGINT');
      assert.equal((await tail.exited).code, 0);
    } finally {
      tail.kill();
    }

    const exporter = spawnHerald(['exporter', '--port', '0', '--json', ...m]);
    try {
      await exporter.waitForOutput('stdout', (s) => s.includes('\n'));
      const [address] = parseJsonLines<{ metricsUrl: string }>(exporter.stdout());
      assert.ok(address, exporter.stdout());
      const res = await fetch(address.metricsUrl);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /topic="orders"/);
    } finally {
      exporter.kill();
    }
    assert.deepEqual(await refusals(), [], 'the tools were refused nothing');

    // Read-only: the monitor cannot publish, trim or declare.
    const stream = partitionKeys(prefix, orders, 0).stream;
    const publish = await runHerald(['publish', 'orders', '{"n":1}', ...m]);
    assert.equal(publish.code, 1);
    assert.match(publish.stderr, new RegExp(`refused XADD on key '${escape(stream)}|refused XADD`));
    const create = await runHerald(['topics', 'create', 'squat', ...m]);
    assert.equal(create.code, 1);
    assert.match(create.stderr, /may not write the registry/);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
