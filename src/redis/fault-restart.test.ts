/**
 * redis-server restarted twice (AOF, appendfsync always: an acknowledged
 * publish is on disk) while three publishers send 10,000 events and two
 * subscriptions consume them. Every publish that returned a receipt is
 * delivered; every failure is a typed HeraldError; retries with the same id
 * store nothing twice; the subscriptions recover by themselves.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { HeraldError } from '../core/errors.ts';
import type { Subscription, SubscriptionStatus } from '../core/contract.ts';
import type { PublishReceipt } from '../core/event.ts';
import { defineTopic } from '../core/topic.ts';
import { startRedisServer, uniquePrefix, waitFor, type RedisServerHandle } from '../testing/redis.ts';
import { RedisBackend } from './backend.ts';
import { allPartitionKeys } from './keys.ts';
import { DeliveryCount, describeReport } from './fixtures/count.ts';

describe('redis-server restarted while publishing and consuming', () => {
  let server: RedisServerHandle;
  const backends: RedisBackend[] = [];
  const subs: Subscription[] = [];

  before(async () => {
    server = await startRedisServer({ appendonly: true, appendfsync: 'always' });
  });

  after(async () => {
    await Promise.all(subs.map((s) => s.close({ deadlineMs: 2000 })));
    await Promise.all(backends.map((b) => b.close()));
    await server?.stop();
  });

  test('two restarts: lost = 0, failures typed, no duplicates stored, consumers recover', async () => {
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
    for (const at of [total * 0.3, total * 0.6]) {
      await waitFor(() => acknowledged >= at, { timeoutMs: 30_000, message: `publishing stalled before ${at}` });
      await server.restart();
    }
    await Promise.all(loops);
    const publishMs = Date.now() - started;

    await waitFor(() => count.deliveredCount >= total, {
      timeoutMs: 30_000,
      message: `not every acknowledged event was delivered (${count.deliveredCount}/${total})`,
    });
    const report = count.report();
    console.log(
      describeReport('two Redis restarts', report) +
        ` publish failures=${JSON.stringify(Object.fromEntries(failures))} confirmed-by-retry=${confirmedByRetry}` +
        ` publishing took ${publishMs} ms`,
    );
    assert.equal(report.published, total);
    assert.equal(report.lost.length, 0, `lost: ${report.lost.slice(0, 10).join(', ')}`);
    assert.equal(report.unexpected.length, 0, `unexpected: ${report.unexpected.slice(0, 10).join(', ')}`);
    assert.deepEqual(untyped, [], 'failures that are not HeraldErrors');
    assert.deepEqual(unexpectedDuplicates, [], 'first publishes reported as duplicates');
    for (const code of failures.keys()) {
      assert.ok(['HERALD_CONNECTION', 'HERALD_TIMEOUT'].includes(code), `unexpected failure code ${code}`);
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
    assert.ok(kinds.indexOf('reconnected', lastDisconnect) > lastDisconnect, "no 'reconnected' after the last restart");
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
});
