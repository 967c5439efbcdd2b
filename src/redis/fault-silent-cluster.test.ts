/**
 * A Redis Cluster whose nodes all go silent without closing their connections (SIGSTOP: the
 * kernel keeps the sockets open and even accepts new ones, but nothing answers), then wake up.
 * The subscription's cluster connection must notice within the dead-peer bound, report
 * 'disconnected', reopen the whole cluster client (its seed node silent too), and after SIGCONT
 * report 'reconnected' and deliver every acknowledged publish.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertNoLoss, DeliveryChecker, describeReport } from '../testing/checker.ts';
import type { SubscriptionStatus } from '../core/contract.ts';
import { silentLogger } from '../core/logger.ts';
import { defineTopic } from '../core/topic.ts';
import { uniquePrefix, waitFor } from '../test-support/redis.ts';
import { startCluster, type RedisClusterSetup } from '../test-support/topology.ts';
import { RedisBackend } from './backend.ts';

const BOUND_MS = 3000;
/** The bound plus slack for a shared machine and a cluster that re-forms after SIGCONT. */
const RECOVERY_MS = BOUND_MS + 12_000;

void describe('a Redis Cluster that goes silent (SIGSTOP), then wakes up', () => {
  let cluster: RedisClusterSetup;
  let backend: RedisBackend;

  before(async () => {
    cluster = await startCluster({ masters: 3 });
    backend = await RedisBackend.connect({
      url: cluster.url,
      prefix: uniquePrefix('silent-cluster'),
      deadPeerTimeoutMs: BOUND_MS,
      logger: silentLogger,
    });
  });

  after(async () => {
    for (const node of cluster?.nodes ?? []) process.kill(node.pid, 'SIGCONT');
    await Promise.race([backend?.close({ deadlineMs: 1000 }), sleep(5000)]);
    await cluster?.stop();
  });

  void test('the subscription notices, reopens the cluster client and delivers again: lost = 0', async () => {
    const topic = defineTopic({ name: 'silent.orders', partitions: 2 });
    const checker = new DeliveryChecker();
    const sub = backend.subscribe(topic, { group: 'g', visibilityTimeoutMs: 2000 }, (e) =>
      checker.handled(e),
    );
    const statuses: SubscriptionStatus[] = [];
    void (async () => {
      for await (const s of sub.status()) statuses.push(s);
    })();
    await sub.ready;
    const publish = async (id: string): Promise<void> => {
      const deadline = Date.now() + RECOVERY_MS;
      for (;;) {
        try {
          checker.published(await backend.publish(topic, { id, data: {} }, { timeoutMs: 1000 }));
          return;
        } catch (e) {
          if (Date.now() > deadline) throw e;
          await sleep(100);
        }
      }
    };
    for (let i = 0; i < 10; i++) await publish(`before-${i}`);
    await waitFor(() => checker.allDelivered());

    for (const node of cluster.nodes) process.kill(node.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    await waitFor(() => statuses.some((s) => s.type === 'disconnected'), {
      timeoutMs: RECOVERY_MS,
      message: 'the subscription did not notice the silent cluster',
    });
    const noticedMs = Date.now() - stoppedAt;
    for (const node of cluster.nodes) process.kill(node.pid, 'SIGCONT');

    for (let i = 0; i < 10; i++) await publish(`after-${i}`);
    await waitFor(() => checker.allDelivered(), {
      timeoutMs: RECOVERY_MS,
      message: describeReport(checker.report()),
    });
    await waitFor(() => statuses.some((s) => s.type === 'reconnected'));
    assertNoLoss(checker.report());
    assert.ok(noticedMs < RECOVERY_MS, `noticed after ${noticedMs} ms`);
    console.log(
      `# silent cluster: noticed after ${noticedMs} ms; ${describeReport(checker.report())}`,
    );
    await sub.close({ deadlineMs: 1000 });
  });
});
