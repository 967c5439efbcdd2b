/**
 * redis-server restarted twice and then crashed (SIGKILL) and started again
 * (AOF, appendfsync always: an acknowledged publish is on disk) while three
 * publishers send 10,000 events and two
 * subscriptions consume them. Every publish that returned a receipt is
 * delivered; every failure is a typed HeraldError; retries with the same id
 * store nothing twice; the subscriptions recover by themselves.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeraldError } from '../core/errors.ts';
import type { Subscription, SubscriptionStatus } from '../core/contract.ts';
import type { PublishReceipt } from '../core/event.ts';
import { defineTopic } from '../core/topic.ts';
import {
  startRedisServer,
  uniquePrefix,
  waitFor,
  type RedisServerHandle,
} from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';
import { allPartitionKeys } from './keys.ts';
import { DeliveryCount, describeReport } from './fixtures/count.ts';

void describe('redis-server restarted while publishing and consuming', () => {
  let server: RedisServerHandle;
  const backends: RedisBackend[] = [];
  const subs: Subscription[] = [];

  let dir: string | undefined;

  before(async () => {
    // The AOF lives on tmpfs where there is one: fsync per write stays cheap, and a restart of the
    // process (what this test does) still only keeps what reached the file.
    if (existsSync('/dev/shm')) dir = mkdtempSync(join('/dev/shm', 'herald-restart-'));
    server = await startRedisServer({
      appendonly: true,
      appendfsync: 'always',
      ...(dir ? { dir } : {}),
    });
  });

  after(async () => {
    await Promise.all(subs.map((s) => s.close({ deadlineMs: 2000 })));
    await Promise.all(backends.map((b) => b.close()));
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  void test('two restarts and a crash: lost = 0, failures typed, no duplicates stored, consumers recover', async () => {
    const prefix = uniquePrefix('restart');
    const topic = defineTopic({ name: 'ledger', partitions: 2 });
    const total = 10_000;
    const publishers = 3;
    const count = new DeliveryCount();

    const consumerSide = await RedisBackend.connect({ url: server.url, prefix });
    backends.push(consumerSide);
    const statuses: SubscriptionStatus[] = [];
    for (let i = 0; i < 2; i++) {
      const sub = consumerSide.subscribe(
        topic,
        { group: 'ledger', consumer: `sub-${i}`, batchSize: 100, visibilityTimeoutMs: 2000 },
        (event) => count.delivered(event.id),
      );
      subs.push(sub);
      void (async () => {
        for await (const s of sub.status()) statuses.push(s);
      })();
      await sub.ready;
    }

    const failures = new Map<string, number>();
    const untyped: unknown[] = [];
    let confirmedByRetry = 0; // a retry found the first attempt stored (receipt.duplicate)
    let acknowledged = 0;
    const unexpectedDuplicates: string[] = [];
    const publish = async (backend: RedisBackend, ids: string[]): Promise<void> => {
      for (const id of ids) {
        let failedBefore = false;
        for (let attempt = 1; ; attempt++) {
          let receipt: PublishReceipt;
          try {
            receipt = await backend.publish(topic, { id, data: { id } }, { timeoutMs: 3000 });
          } catch (e) {
            if (!(e instanceof HeraldError)) untyped.push(e);
            const code = e instanceof HeraldError ? e.code : String(e);
            failures.set(code, (failures.get(code) ?? 0) + 1);
            failedBefore = true;
            if (attempt >= 50) throw new Error(`gave up publishing ${id}`, { cause: e });
            await sleep(20);
            continue;
          }
          if (receipt.duplicate) {
            // Only a retry may find its event stored already: the attempt that failed had written it.
            if (!failedBefore) unexpectedDuplicates.push(id);
            confirmedByRetry++;
          }
          count.acknowledged(receipt.id);
          acknowledged++;
          break;
        }
      }
    };

    const loops: Promise<void>[] = [];
    for (let p = 0; p < publishers; p++) {
      const backend = await RedisBackend.connect({ url: server.url, prefix });
      backends.push(backend);
      const ids: string[] = [];
      for (let i = p; i < total; i += publishers) ids.push(`evt-${i}`);
      loops.push(publish(backend, ids));
    }

    const started = Date.now();
    // Two graceful restarts, then a crash: with appendfsync always, Redis fsyncs the AOF before it
    // replies, so even SIGKILL loses nothing that was acknowledged.
    const faults = [
      { at: total * 0.3, fault: () => server.restart() },
      { at: total * 0.55, fault: () => server.restart() },
      {
        at: total * 0.8,
        fault: async () => {
          await server.kill();
          await server.restart(); // starts it again on the same port and dir
        },
      },
    ];
    for (const { at, fault } of faults) {
      await waitFor(() => acknowledged >= at, {
        timeoutMs: 30_000,
        message: `publishing stalled before ${at}`,
      });
      await fault();
    }
    await Promise.all(loops);
    const publishMs = Date.now() - started;

    await waitFor(() => count.deliveredCount >= total, {
      timeoutMs: 30_000,
      message: `not every acknowledged event was delivered (${count.deliveredCount}/${total})`,
    });
    const report = count.report();
    console.log(
      describeReport('two Redis restarts and a crash', report) +
        ` publish failures=${JSON.stringify(Object.fromEntries(failures))} confirmed-by-retry=${confirmedByRetry}` +
        ` publishing took ${publishMs} ms`,
    );
    assert.equal(report.published, total);
    assert.equal(report.lost.length, 0, `lost: ${report.lost.slice(0, 10).join(', ')}`);
    assert.equal(
      report.unexpected.length,
      0,
      `unexpected: ${report.unexpected.slice(0, 10).join(', ')}`,
    );
    assert.deepEqual(untyped, [], 'failures that are not HeraldErrors');
    assert.deepEqual(unexpectedDuplicates, [], 'first publishes reported as duplicates');
    for (const code of failures.keys()) {
      assert.ok(
        ['HERALD_CONNECTION', 'HERALD_TIMEOUT'].includes(code),
        `unexpected failure code ${code}`,
      );
    }

    // Retries with the same id stored nothing twice: one stream entry per event.
    let stored = 0;
    for (const p of allPartitionKeys(prefix, topic)) {
      stored += Number(await consumerSide.conn.send(['XLEN', p.stream]));
    }
    assert.equal(stored, total, 'the streams hold more entries than events published');

    // The subscriptions saw the restarts and came back by themselves.
    const kinds = statuses.map((s) => s.type);
    assert.ok(kinds.includes('disconnected'), `no 'disconnected' status: ${kinds.join(',')}`);
    const lastDisconnect = kinds.lastIndexOf('disconnected');
    assert.ok(
      kinds.indexOf('reconnected', lastDisconnect) > lastDisconnect,
      "no 'reconnected' after the last restart",
    );
    await waitFor(
      async () => {
        let pending = 0;
        for (const p of allPartitionKeys(prefix, topic)) {
          const summary = await consumerSide.conn.send<unknown[]>(['XPENDING', p.stream, 'ledger']);
          pending += Number(summary[0]);
        }
        return pending === 0;
      },
      { timeoutMs: 15_000, message: 'events left pending after the restarts' },
    );
  });

  void test('a restart that loses the data: the group is recreated and events published since are delivered', async () => {
    const volatile = await startRedisServer({ appendonly: false });
    const prefix = uniquePrefix('no-data');
    const backend = await RedisBackend.connect({ url: volatile.url, prefix });
    try {
      const topic = defineTopic({ name: 'volatile' });
      const count = new DeliveryCount();
      const sub = backend.subscribe(topic, { group: 'g', visibilityTimeoutMs: 1000 }, (e) =>
        count.delivered(e.id),
      );
      const statuses: SubscriptionStatus[] = [];
      void (async () => {
        for await (const s of sub.status()) statuses.push(s);
      })();
      await sub.ready;
      count.acknowledged((await backend.publish(topic, { id: 'before', data: {} })).id);
      await waitFor(() => count.deliveredCount === 1, {
        message: 'the first event was not delivered',
      });

      await volatile.restart(); // no AOF, no RDB: the stream and its group are gone
      // Published as soon as Redis is back: the stream is recreated by XADD, before the
      // subscription notices that its group is gone.
      for (let i = 0; i < 20; i++) {
        for (;;) {
          try {
            count.acknowledged((await backend.publish(topic, { id: `after-${i}`, data: {} })).id);
            break;
          } catch {
            await sleep(20);
          }
        }
      }
      await waitFor(() => count.deliveredCount >= 21, {
        message: `events published after the restart were not delivered (${count.deliveredCount - 1}/20)`,
      });
      const report = count.report();
      console.log(describeReport('restart without data', report));
      assert.equal(report.lost.length, 0);
      assert.equal(report.unexpected.length, 0);
      assert.ok(statuses.some((s) => s.type === 'disconnected'));
      await sub.close();
    } finally {
      await backend.close();
      await volatile.stop();
    }
  });

  void test('close() while Redis is down returns within its deadline', async () => {
    const doomed = await startRedisServer({ appendonly: false });
    const backend = await RedisBackend.connect({ url: doomed.url, prefix: uniquePrefix('down') });
    try {
      const topic = defineTopic({ name: 'down' });
      const sub = backend.subscribe(topic, { group: 'g' }, () => {});
      const statuses: SubscriptionStatus[] = [];
      void (async () => {
        for await (const s of sub.status()) statuses.push(s);
      })();
      await sub.ready;
      await doomed.kill();
      await waitFor(() => statuses.some((s) => s.type === 'disconnected'), {
        message: "no 'disconnected' status",
      });
      const started = Date.now();
      await sub.close({ deadlineMs: 500 });
      const tookMs = Date.now() - started;
      console.log(`close() with Redis down took ${tookMs} ms`);
      assert.ok(tookMs < 15_000, `close() took ${tookMs} ms`);
      assert.equal(statuses.at(-1)?.type, 'closed');
    } finally {
      await backend.close();
      await doomed.stop();
    }
  });

  void test('a subscription made while Redis is down starts by itself once Redis is back', async () => {
    const late = await startRedisServer({ appendonly: false });
    const backend = await RedisBackend.connect({ url: late.url, prefix: uniquePrefix('late') });
    try {
      const topic = defineTopic({ name: 'late' });
      await late.kill();
      const count = new DeliveryCount();
      const sub = backend.subscribe(topic, { group: 'g', startFrom: 'beginning' }, (e) =>
        count.delivered(e.id),
      );
      const statuses: SubscriptionStatus[] = [];
      void (async () => {
        for await (const s of sub.status()) statuses.push(s);
      })();
      let readyFailed: unknown;
      sub.ready.catch((e: unknown) => (readyFailed = e));
      await waitFor(
        () => statuses.some((s) => s.type === 'disconnected') || readyFailed !== undefined,
        {
          timeoutMs: 20_000,
          message: "the subscription neither reported 'disconnected' nor failed",
        },
      );
      assert.equal(
        readyFailed,
        undefined,
        `ready rejected while Redis was down: ${String(readyFailed)}`,
      );

      await late.restart();
      await sub.ready;
      for (let i = 0; i < 10; i++)
        count.acknowledged((await backend.publish(topic, { id: `late-${i}`, data: {} })).id);
      await waitFor(() => count.deliveredCount >= 10, {
        message: 'nothing was delivered once Redis was back',
      });
      assert.equal(count.report().lost.length, 0);
      await sub.close();
    } finally {
      await backend.close();
      await late.stop();
    }
  });
});
