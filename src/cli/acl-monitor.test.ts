/**
 * `herald acl --monitor --apply` with an administrator URL, and the monitor user running
 * topics, groups, dlq list and doctor without Redis refusing it anything (tail, exporter
 * and the printed line: acl-monitor-live.test.ts; split to keep each file's run short).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../core/logger.ts';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { declareTopic } from '../redis/registry.ts';
import { toMap } from '../redis/replies.ts';
import { testRedisUrl, uniquePrefix, urlWithUser } from '../test-support/redis.ts';
import { deadLetterAll, runHerald } from './testing.ts';

const PASSWORD = 'monitor-test-password';

void describe('herald acl and a --monitor user', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('mon');
  const tag = prefix.slice(prefix.lastIndexOf(':') + 1);
  const user = `herald-monitor-${tag}`;
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
    await deadLetterAll(admin, orders, 'billing', (d) => d.n === 1, 1);
    monitorUrl = urlWithUser(url, user, PASSWORD);
  });

  after(async () => {
    await admin.conn.send(['ACL', 'DELUSER', user]);
    await admin.close();
  });

  void test('--apply creates a --monitor user that runs topics, groups, dlq list and doctor', async () => {
    const g = ['--url', url, '--prefix', prefix];
    const applied = await runHerald(['acl', '--user', user, '--monitor', '--apply', ...g]);
    assert.equal(applied.code, 0, applied.stderr);
    await admin.conn.send(['ACL', 'SETUSER', user, `>${PASSWORD}`]);
    const m = ['--url', monitorUrl, '--prefix', prefix];

    const topics = await runHerald(['topics', ...m]);
    assert.equal(topics.code, 0, topics.stderr);
    assert.match(topics.stdout, /orders\s+2\s+4/);

    const groups = await runHerald(['groups', 'orders', ...m]);
    assert.equal(groups.code, 0, groups.stderr);
    assert.match(groups.stdout, /billing/);

    const dlq = await runHerald(['dlq', 'list', 'orders', ...m]);
    assert.equal(dlq.code, 0, dlq.stderr);
    assert.match(dlq.stdout, /billing/);

    const doctor = await runHerald(['doctor', ...m]);
    assert.doesNotMatch(
      doctor.stdout + doctor.stderr,
      /NOPERM|could not run|refused/,
      doctor.stdout,
    );

    // Only doctor's CONFIG GET (it would show requirepass): doctor reports those checks as
    // unknown and goes on.
    assert.deepEqual(
      await refusals(),
      ['command config|get'],
      'the tools were refused nothing else',
    );
  });
});
