/**
 * Highly available Redis behind its two front doors (seed 003): 1 primary and 2 replicas
 * with AOF, 3 sentinels, HAProxy routing to the node reporting role:master
 * (src/test-support/ha.ts, the topology of `herald dev --ha`). Through each URL, the primary is
 * SIGKILLed while a publisher and a consumer run: Sentinel promotes a replica, HAProxy
 * follows, the same backend publishes and consumes on without help, and no publish
 * confirmed with replicated durability is lost. The time to recover is printed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertNoLoss, DeliveryChecker, describeReport } from '../testing/checker.ts';
import type { Subscription } from '../core/contract.ts';
import { isHeraldError } from '../core/errors.ts';
import { defineTopic } from '../core/topic.ts';
import { connectHerald } from '../herald.ts';
import type { RedisBackend } from '../redis/backend.ts';
import { startHaRedis, type HaRedis } from '../test-support/ha.ts';
import { uniquePrefix, waitFor } from '../test-support/redis.ts';
import { infoAt } from '../test-support/topology.ts';

const REPLICATED = { mode: 'replicated', replicas: 1, timeoutMs: 1000 } as const;
/** Confirmed publishes before the kill, and after recovery, before the run ends. */
const BEFORE_KILL = 100;
const AFTER_RECOVERY = 100;
/** Pause after a failed publish, as a real publisher would back off. */
const RETRY_PAUSE_MS = 50;
/** Generous: the machine is shared with other test runs. */
const FAILOVER_TIMEOUT_MS = 45_000;

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Recovery {
  /** From the SIGKILL to the first publish confirmed by a replica of the new primary. */
  publishMs: number;
  /** From the SIGKILL to the first delivery of an event published after it. */
  consumeMs: number;
}

/** Runs the failover scenario through `door` and returns what it measured. */
async function failoverThrough(door: 'haproxy' | 'sentinel'): Promise<Recovery> {
  const ha: HaRedis = await startHaRedis({ downAfterMs: 1000, failoverTimeoutMs: 5000 });
  let backend: RedisBackend | undefined;
  let sub: Subscription | undefined;
  try {
    const url = door === 'haproxy' ? ha.haproxyUrl : ha.sentinelUrl;
    backend = await connectHerald({ url, prefix: uniquePrefix(`ha-${door}`) });
    const topic = defineTopic({ name: 'ha-orders', partitions: 2 });
    const checker = new DeliveryChecker();
    let killedAt = 0;
    let firstConsumedAfterKill = 0;
    /** Events numbered from this one on were published after the kill. */
    let firstNAfterKill = Number.POSITIVE_INFINITY;
    let n = 0;
    /** The number carried by each event delivered, and the numbers whose publish failed. */
    const nById = new Map<string, number>();
    const failedNs = new Set<number>();
    sub = backend.subscribe(
      topic,
      { group: 'billing', startFrom: 'beginning', visibilityTimeoutMs: 2000 },
      (e) => {
        checker.handled(e);
        nById.set(e.id, (e.data as { n: number }).n);
        if (firstConsumedAfterKill === 0 && (e.data as { n: number }).n >= firstNAfterKill) {
          firstConsumedAfterKill = Date.now();
        }
      },
    );
    await sub.ready;

    const failures = new Map<string, number>();
    const untyped: unknown[] = [];
    let confirmed = 0;
    let confirmedAfterKill = 0;
    let firstConfirmedAfterKill = 0;
    let stop = false;
    const publishing = (async () => {
      for (; !stop; n++) {
        try {
          const receipt = await backend.publish(
            topic,
            // An explicit id: a client that re-sends an in-flight XADD to the new primary stores
            // the event twice, and only an id makes the copy a duplicate rather than a stranger.
            { data: { n }, key: String(n), id: `ha-${n}` },
            { durability: REPLICATED, timeoutMs: 2000 },
          );
          checker.published(receipt);
          confirmed++;
          if (killedAt !== 0) {
            confirmedAfterKill++;
            if (firstConfirmedAfterKill === 0) firstConfirmedAfterKill = Date.now();
          }
        } catch (e) {
          failedNs.add(n);
          if (isHeraldError(e)) failures.set(e.code, (failures.get(e.code) ?? 0) + 1);
          else untyped.push(e);
          await pause(RETRY_PAUSE_MS);
        }
      }
    })();
    try {
      await waitFor(() => confirmed >= BEFORE_KILL, {
        timeoutMs: 30_000,
        message: 'publishes were not confirmed before the kill',
      });
      const oldPort = ha.sentinel.master.port;
      await ha.sentinel.master.kill();
      killedAt = Date.now();
      firstNAfterKill = n + 1;
      const newPort = await ha.sentinel.waitForFailover(oldPort, FAILOVER_TIMEOUT_MS);
      await waitFor(async () => (await ha.haproxyUpPorts()).join() === String(newPort), {
        timeoutMs: FAILOVER_TIMEOUT_MS,
        intervalMs: 100,
        message: 'haproxy did not follow the promoted replica',
      });
      await waitFor(() => confirmedAfterKill >= AFTER_RECOVERY, {
        timeoutMs: FAILOVER_TIMEOUT_MS,
        intervalMs: 50,
        message: `the publisher did not recover through ${door}`,
      });
    } finally {
      stop = true;
      await publishing;
    }
    assert.deepEqual(untyped, [], 'publishes failed with errors that are not HeraldErrors');
    await waitFor(() => checker.allDelivered(), {
      timeoutMs: FAILOVER_TIMEOUT_MS,
      message: `confirmed events were not all consumed: ${describeReport(checker.report())}`,
    });
    const report = checker.report();
    // A publish that failed may still have been stored (its WAIT timed out, say): its event
    // is delivered without having been confirmed. Nothing else may be.
    for (const id of report.unexpectedIds) {
      assert.ok(failedNs.has(nById.get(id) ?? -1), `event ${id} was never published`);
    }
    // `unexpected` counts deliveries: a failed publish that was stored anyway may be delivered
    // twice (at-least-once), so the distinct ids are what failed publishes must cover.
    assert.ok(report.unexpectedIds.length <= failedNs.size, describeReport(report));
    assertNoLoss({ ...report, unexpected: 0, unexpectedIds: [] });
    const recovery = {
      publishMs: firstConfirmedAfterKill - killedAt,
      consumeMs: firstConsumedAfterKill - killedAt,
    };
    const failed = [...failures].map(([code, n]) => `${code}×${n}`).join(', ') || 'none';
    console.log(
      `HA through ${door}: primary SIGKILLed; first replicated publish confirmed after ` +
        `${recovery.publishMs} ms, first event published after the kill consumed after ` +
        `${recovery.consumeMs} ms; failed publishes: ${failed}; ${describeReport(report)}`,
    );
    return recovery;
  } finally {
    await sub?.close({ deadlineMs: 2000 });
    await backend?.close();
    await ha.stop();
  }
}

void describe('HA Redis (1 primary, 2 replicas, 3 sentinels) behind HAProxy and Sentinel', () => {
  void test('HAProxy routes to the primary only; the nodes run AOF and the replicas follow', async () => {
    const ha = await startHaRedis();
    try {
      assert.deepEqual(await ha.haproxyUpPorts(), [ha.sentinel.master.port]);
      for (let i = 0; i < 5; i++) {
        assert.equal(await ha.haproxyTargetPort(), ha.sentinel.master.port);
      }
      assert.match(ha.haproxyUrl, /^redis:\/\/127\.0\.0\.1:\d+$/);
      assert.match(
        ha.sentinelUrl,
        /^redis\+sentinel:\/\/(127\.0\.0\.1:\d+,){2}127\.0\.0\.1:\d+\/mymaster$/,
      );
      for (const node of ha.nodes) {
        assert.equal((await infoAt(node.port, 'persistence')).aof_enabled, '1');
      }
      const replication = await infoAt(ha.sentinel.master.port, 'replication');
      assert.equal(Number(replication.connected_slaves), 2);
    } finally {
      await ha.stop();
    }
  });

  void test('through HAProxy: SIGKILL the primary while publishing and consuming, nothing confirmed is lost', async () => {
    const r = await failoverThrough('haproxy');
    assert.ok(r.publishMs > 0 && r.consumeMs > 0);
  });

  void test('through Sentinel: SIGKILL the primary while publishing and consuming, nothing confirmed is lost', async () => {
    const r = await failoverThrough('sentinel');
    assert.ok(r.publishMs > 0 && r.consumeMs > 0);
  });
});
