/**
 * `herald groups` on an ordered group: the owner, fencing epoch and lease left of each
 * partition, read from ownership keys written here in the documented format
 * ("<epoch>|<consumer>" with a PX lease; the epoch key), as the ordered subscription writes them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defineTopic } from '../core/topic.ts';
import type { GroupInfo } from '../ops/inspect.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { formatOwnerValue } from '../redis/ownership-read.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { parseJson, runHerald } from './testing.ts';

const LEASE_MS = 60_000;

void describe('herald groups shows the partition owners of an ordered group', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('cli-ordered');
  const payments = defineTopic({ name: 'payments', partitions: 3 });
  const g = ['--url', url, '--prefix', prefix];
  let backend: RedisBackend;

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix });
    await backend.publishBatch(
      payments,
      Array.from({ length: 12 }, (_, i) => ({ data: { i }, key: `k${i}` })),
    );
    const send = (...args: string[]) => backend.conn.send(args);
    for (let p = 0; p < 3; p++) {
      const k = partitionKeys(prefix, payments, p);
      await send('XGROUP', 'CREATE', k.stream, 'ledger', '0');
      await send('XGROUP', 'CREATE', k.stream, 'audit', '0');
    }
    // ledger is ordered: partitions 0 and 1 owned, partition 2 lost its owner after epoch 4.
    const k = (p: number) => partitionKeys(prefix, payments, p);
    await send(
      'SET',
      `${k(0).ownerPrefix}ledger`,
      formatOwnerValue(2, 'pod-a'),
      'PX',
      `${LEASE_MS}`,
    );
    await send('SET', `${k(0).epochPrefix}ledger`, '2');
    await send(
      'SET',
      `${k(1).ownerPrefix}ledger`,
      formatOwnerValue(1, 'pod-b'),
      'PX',
      `${LEASE_MS}`,
    );
    await send('SET', `${k(1).epochPrefix}ledger`, '1');
    await send('SET', `${k(2).epochPrefix}ledger`, '4');
  });

  after(async () => {
    await backend.close();
  });

  void test('an owners table per partition for the ordered group only, and a note for the unowned partition', async () => {
    const r = await runHerald(['groups', 'payments', ...g]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    const head = lines.findIndex((l) => /^GROUP +PART +OWNER +EPOCH +LEASE LEFT$/.test(l));
    assert.ok(head > 0, r.stdout);
    const rows = lines.slice(head + 1, head + 4);
    assert.match(rows[0] ?? '', /^ledger +0 +pod-a +2 +[\d.]+ s$/);
    assert.match(rows[1] ?? '', /^ledger +1 +pod-b +1 +[\d.]+ s$/);
    assert.match(rows[2] ?? '', /^ledger +2 +\(none\) +4 +-$/);
    assert.equal(lines[head + 4], '', 'only the ordered group has owners');
    assert.ok(
      lines.includes(
        "note: group 'ledger' (ordered): no instance owns partition(s) 2; their events wait until one takes them",
      ),
      r.stdout,
    );

    const json = parseJson<GroupInfo[]>(await runHerald(['groups', 'payments', ...g, '--json']));
    const ledger = json.find((x) => x.group === 'ledger');
    const audit = json.find((x) => x.group === 'audit');
    assert.equal(ledger?.ordered, true);
    assert.deepEqual(
      ledger?.ownership.map((o) => [o.partition, o.owner ?? null, o.epoch]),
      [
        [0, 'pod-a', 2],
        [1, 'pod-b', 1],
        [2, null, 4],
      ],
    );
    const lease = ledger?.ownership[0]?.leaseLeftMs ?? -1;
    assert.ok(lease > 0 && lease <= LEASE_MS, `lease left ${lease}`);
    assert.deepEqual([audit?.ordered, audit?.ownership], [false, []]);
  });

  void test('--by-partition adds OWNER, EPOCH and LEASE LEFT columns', async () => {
    const r = await runHerald(['groups', 'payments', ...g, '--by-partition']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.match(lines[0] ?? '', / +CONSUMERS +OWNER +EPOCH +LEASE LEFT$/);
    assert.ok(
      lines.some((l) => /^ledger +0 .* pod-a +2 +[\d.]+ s$/.test(l)),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => /^ledger +2 .* \(none\) +4 +-$/.test(l)),
      r.stdout,
    );
    // The unordered group's ownership cells stay empty.
    assert.ok(
      lines.some((l) => /^audit +0 .* 0 +- +- +-$/.test(l)),
      r.stdout,
    );
  });

  void test('a topic whose groups are all unordered prints no owners table', async () => {
    const plain = defineTopic({ name: 'plain' });
    await backend.publish(plain, { data: 1 });
    await backend.conn.send([
      'XGROUP',
      'CREATE',
      partitionKeys(prefix, plain, 0).stream,
      'readers',
      '0',
    ]);
    const r = await runHerald(['groups', 'plain', ...g]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /OWNER/);
  });
});
