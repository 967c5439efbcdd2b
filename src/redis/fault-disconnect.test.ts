/**
 * Connections cut by the server (CLIENT KILL) while events are published and
 * consumed: the subscription reports 'disconnected' then 'reconnected',
 * resumes by itself, and every acknowledged publish is delivered — including
 * events whose XREADGROUP reply was lost with the connection (they stay
 * pending until the visibility timeout, then are reclaimed).
 */
import { after, afterEach, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient } from 'redis';
import type { Subscription, SubscriptionStatus } from '../core/contract.ts';
import { HeraldError } from '../core/errors.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import {
  startRedisServer,
  uniquePrefix,
  waitFor,
  type RedisServerHandle,
} from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';
import { partitionKeys } from './keys.ts';
import { DeliveryCount, describeReport } from './fixtures/count.ts';

type Admin = ReturnType<typeof createClient>;

/** The id of the one client blocked in XREADGROUP: the subscription's reading connection. */
async function blockedReader(admin: Admin): Promise<string> {
  const ids = await waitFor(
    async () => {
      const list = await admin.sendCommand<string>(['CLIENT', 'LIST', 'TYPE', 'normal']);
      const blocked = list
        .split('\n')
        .filter((line) => / cmd=xreadgroup /.test(line) && / flags=b /.test(line))
        .map((line) => /(?:^|\s)id=(\d+)/.exec(line)?.[1] ?? '');
      return blocked.length === 1 ? blocked : undefined;
    },
    { message: 'the subscription is not blocked in XREADGROUP' },
  );
  return ids?.[0] ?? '';
}

/** Publishes with explicit ids, retrying failures with the same id (dedupe makes that safe). */
async function publishAll(
  backend: RedisBackend,
  topic: Topic<unknown>,
  ids: readonly string[],
  count: DeliveryCount,
  failures: unknown[],
): Promise<void> {
  for (const id of ids) {
    for (;;) {
      try {
        const receipt = await backend.publish(topic, { id, data: { id } }, { timeoutMs: 3000 });
        count.acknowledged(receipt.id);
        break;
      } catch (e) {
        failures.push(e);
        if (failures.length > 500) throw e;
        await sleep(10);
      }
    }
  }
}

function watch(sub: Subscription, open: Subscription[]): SubscriptionStatus[] {
  open.push(sub);
  const seen: SubscriptionStatus[] = [];
  void (async () => {
    for await (const s of sub.status()) seen.push(s);
  })();
  return seen;
}

void describe('connections cut with CLIENT KILL', () => {
  let server: RedisServerHandle;
  let admin: Admin;
  let backend: RedisBackend;
  let publisher: RedisBackend;
  const open: Subscription[] = [];

  before(async () => {
    server = await startRedisServer({ appendonly: false });
    admin = createClient({ url: server.url });
    admin.on('error', () => {});
    await admin.connect();
    backend = await RedisBackend.connect({ url: server.url, prefix: uniquePrefix('cut') });
    publisher = await RedisBackend.connect({ url: server.url, prefix: backend.prefix });
  });

  afterEach(async () => {
    // A failed test must not leave its reader blocked for the next one.
    await Promise.all(open.splice(0).map((s) => s.close({ deadlineMs: 2000 })));
  });

  after(async () => {
    await backend?.close({ deadlineMs: 2000 });
    await publisher?.close();
    await admin?.close().catch(() => {});
    await server?.stop();
  });

  void test('CLIENT KILL TYPE normal while consuming: resumes without restart, lost = 0', async () => {
    const topic = defineTopic({ name: 'cut-all', partitions: 2 });
    const count = new DeliveryCount();
    const sub = backend.subscribe(
      topic,
      { group: 'g', visibilityTimeoutMs: 1000, batchSize: 50 },
      (e) => {
        count.delivered(e.id);
      },
    );
    const statuses = watch(sub, open);
    await sub.ready;

    const failures: unknown[] = [];
    const ids = Array.from({ length: 3000 }, (_, i) => `cut-${i}`);
    const publishing = publishAll(publisher, topic, ids, count, failures);
    let kills = 0;
    for (const at of [500, 1200, 2000]) {
      await waitFor(() => count.deliveredCount >= at, {
        timeoutMs: 30_000,
        message: `consumption stalled before ${at}`,
      });
      kills += Number(await admin.sendCommand(['CLIENT', 'KILL', 'TYPE', 'normal']));
    }
    await publishing;
    await waitFor(() => count.deliveredCount >= ids.length, {
      timeoutMs: 30_000,
      message: `not every event was delivered after the cuts (${count.deliveredCount}/${ids.length})`,
    });
    const report = count.report();
    console.log(
      `${describeReport('CLIENT KILL TYPE normal x3', report)} clients killed=${kills} publish failures=${failures.length}`,
    );
    assert.equal(report.lost.length, 0);
    assert.equal(report.unexpected.length, 0);
    assert.ok(kills >= 3, `only ${kills} clients were killed`);
    for (const f of failures) assert.ok(f instanceof HeraldError, `untyped failure: ${String(f)}`);

    const kinds = statuses.map((s) => s.type);
    const firstCut = kinds.indexOf('disconnected');
    assert.ok(firstCut >= 0, `no 'disconnected' status: ${kinds.join(',')}`);
    assert.ok(
      kinds.indexOf('reconnected', firstCut) > firstCut,
      `no 'reconnected' after it: ${kinds.join(',')}`,
    );
    assert.equal(
      kinds.lastIndexOf('reconnected') > kinds.lastIndexOf('disconnected'),
      true,
      'still disconnected',
    );
  });

  void test("CLIENT KILL ID of the reading connection: 'disconnected', 'reconnected', lost = 0", async () => {
    const topic = defineTopic({ name: 'cut-reader' });
    const count = new DeliveryCount();
    const sub = backend.subscribe(topic, { group: 'g', visibilityTimeoutMs: 1000 }, (e) => {
      count.delivered(e.id);
    });
    const statuses = watch(sub, open);
    await sub.ready;

    const first = await publisher.publishBatch(
      topic,
      Array.from({ length: 100 }, (_, i) => ({ id: `a-${i}`, data: {} })),
    );
    for (const r of first) count.acknowledged(r.id);
    await waitFor(() => count.deliveredCount >= 100, {
      message: 'the first events were not delivered',
    });

    const reader = await blockedReader(admin);
    assert.equal(Number(await admin.sendCommand(['CLIENT', 'KILL', 'ID', reader])), 1);
    await waitFor(() => statuses.some((s) => s.type === 'disconnected'), {
      message: "no 'disconnected' status",
    });

    const second = await publisher.publishBatch(
      topic,
      Array.from({ length: 100 }, (_, i) => ({ id: `b-${i}`, data: {} })),
    );
    for (const r of second) count.acknowledged(r.id);
    await waitFor(() => count.deliveredCount >= 200, {
      message: 'consumption did not resume after the cut',
    });
    const kinds = statuses.map((s) => s.type);
    assert.ok(kinds.indexOf('reconnected') > kinds.indexOf('disconnected'), kinds.join(','));
    const report = count.report();
    console.log(describeReport('CLIENT KILL ID (reader)', report));
    assert.equal(report.lost.length, 0);
    assert.equal(report.unexpected.length, 0);
  });

  void test('events whose XREADGROUP reply was lost with the connection are reclaimed', async () => {
    const topic = defineTopic({ name: 'lost-reply' });
    const stream = partitionKeys(backend.prefix, topic, 0).stream;
    const count = new DeliveryCount();
    const sub = backend.subscribe(
      topic,
      { group: 'g', consumer: 'reader', visibilityTimeoutMs: 1000 },
      (e) => {
        count.delivered(e.id);
      },
    );
    const statuses = watch(sub, open);
    await sub.ready;
    await publisher
      .publish(topic, { id: 'warm-up', data: {} })
      .then((r) => count.acknowledged(r.id));
    await waitFor(() => count.deliveredCount >= 1, {
      message: 'the warm-up event was not delivered',
    });

    const reader = await blockedReader(admin);
    // One pipeline: the XADD wakes the blocked XREADGROUP, which takes the entry into the
    // consumer's pending list and queues the reply; the CLIENT KILL right behind it drops that
    // reply with the connection. The entry is pending for 'reader', which never saw it.
    const fields = ['specversion', '1.0', 'type', 'lost-reply', 'id', 'lost-1', 'data', '{}'];
    const [position, killed] = await Promise.all([
      admin.sendCommand<string>(['XADD', stream, '*', ...fields]),
      admin.sendCommand(['CLIENT', 'KILL', 'ID', reader]),
    ]);
    count.acknowledged('lost-1');
    assert.equal(Number(killed), 1, 'the reading connection was not killed');
    const pending = await admin.sendCommand<unknown[][]>([
      'XPENDING',
      stream,
      'g',
      '-',
      '+',
      '10',
      'reader',
    ]);
    assert.deepEqual(
      pending.map((row) => String(row[0])),
      [position],
      'the killed read did not take the entry: the scenario did not happen',
    );

    const later = await publisher.publish(topic, { id: 'after-the-cut', data: {} });
    count.acknowledged(later.id);
    await waitFor(() => count.deliveredCount >= 3, {
      timeoutMs: 20_000,
      message: 'the entry whose read reply was lost was never delivered',
    });
    const report = count.report();
    console.log(describeReport('lost XREADGROUP reply', report));
    assert.equal(report.lost.length, 0);
    assert.ok(
      statuses.some((s) => s.type === 'reclaimed'),
      "the lost reply's entry was delivered without a 'reclaimed' status",
    );
  });
});
