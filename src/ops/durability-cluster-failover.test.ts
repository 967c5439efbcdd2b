/**
 * Replicated durability across a Redis Cluster failover: 3 primaries with a replica each, a
 * backend from connectHerald publishing to a 12-partition topic (so every node holds several
 * partitions) with `durability: replicated`. One primary is SIGKILLed and its replica promoted.
 * The promoted primary has no replica of its own, so replicated publishes touching its
 * partitions are refused: promptly, saying so (0 of 1 replica confirmed, or, while the nodes'
 * views of the slots still differ, that the write's connection was replaced). Then the killed node
 * is restarted and rejoins as the new primary's replica: publishing must resume within a
 * bound, and every event whose publish resolved OK must be on the primaries: lost = 0.
 *
 * The bug this guards: the WAITs were sent once per partition; several on one node connection,
 * each blocking it for its whole timeout while the promoted primary had no replica, outlived
 * their reply deadline and held the next writes behind them, so every publish failed as an
 * XADD or WAIT reply timeout ("got no reply within …") for as long as the replica was missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DurabilityError } from '../core/errors.ts';
import type { PublishReceipt } from '../core/event.ts';
import { defineTopic } from '../core/topic.ts';
import type { RedisServerHandle } from '../embedded/redis-server.ts';
import { connectHerald } from '../herald.ts';
import { connect } from '../redis/connection.ts';
import { partitionKeys } from '../redis/keys.ts';
import { uniquePrefix, waitFor } from '../test-support/redis.ts';
import {
  startCluster,
  startClusterReplicas,
  waitForReplicaPromotion,
} from '../test-support/topology.ts';

const PARTITIONS = 12;
const BATCH = 24;
const REPLICATED = { mode: 'replicated', replicas: 1, timeoutMs: 2000 } as const;
/** Publishing resumes within this after the killed node is back (slack for a loaded machine). */
const RESUME_BOUND_MS = 45_000;
/** Confirmed batches after the restart before publishing stops. */
const BATCHES_AFTER = 5;
/** Bound on the time after the promotion until publishes are refused for too few replicas. */
const SETTLE_BOUND_MS = 40_000;
/** Refused publishes observed while the promoted primary has no replica. */
const DEGRADED_REFUSALS = 4;
/**
 * A refused publish settles within about its WAIT timeout (2 s); a reply timeout takes 5 s or
 * more. Slack for a loaded machine.
 */
const REFUSAL_BOUND_MS = 4500;
/** The refusal's own words (durability.ts): too few replicas confirmed in time. */
const TOO_FEW_REPLICAS = /\b0 of 1 replica confirmed within/;
/**
 * The other honest refusal (durability.ts): the WAIT ran on another server connection than the
 * write, so it cannot speak for it. Right after a failover the nodes' views of the slots differ
 * for a while; the client may then drop and reopen its connection to the promoted primary.
 */
const CONNECTION_CHANGED =
  /could not confirm replication \(the write ran on .* but WAIT on .*the connection was re-established or the master changed/;

interface Refusal {
  readonly error: unknown;
  readonly ms: number;
}

function describe(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).slice(0, 120);
}

function isTooFew(r: Refusal): boolean {
  return r.error instanceof DurabilityError && TOO_FEW_REPLICAS.test(r.error.message);
}

function isConnectionChanged(r: Refusal): boolean {
  return r.error instanceof DurabilityError && CONNECTION_CHANGED.test(r.error.message);
}

void test('on a Cluster, replicated publishes are refused while a promoted primary has no replica, resume once it has one, and lose nothing confirmed', async () => {
  const cluster = await startCluster({ masters: 3 });
  const replicas = await startClusterReplicas(cluster, 1);
  const backend = await connectHerald({
    url: cluster.url,
    prefix: uniquePrefix('dur-cluster-failover'),
    capacity: false,
  });
  try {
    const topic = defineTopic<{ n: number }>({ name: 'payments', partitions: PARTITIONS });
    const confirmed: PublishReceipt[] = [];
    let unknown = 0;
    let otherErrors = 0;
    let n = 0;
    let stopping = false;
    let confirmedAfterRestart = 0;
    let restartedAt = 0;
    let resumedMs = -1;
    /** While true (after the promotion, before the restart), refused publishes are recorded. */
    let degraded = false;
    const refusals: Refusal[] = [];
    const loop = (async () => {
      while (!stopping) {
        const events = Array.from({ length: BATCH }, () => ({ data: { n: n++ } }));
        const t0 = Date.now();
        const during = degraded;
        let failed = false;
        try {
          confirmed.push(
            ...(await backend.publishBatch(topic, events, { durability: REPLICATED })),
          );
          if (restartedAt > 0) {
            if (resumedMs < 0) resumedMs = Date.now() - restartedAt;
            confirmedAfterRestart++;
          }
        } catch (e) {
          failed = true;
          if (e instanceof DurabilityError) unknown++;
          else otherErrors++;
          if (during && degraded) refusals.push({ error: e, ms: Date.now() - t0 });
        }
        // Retried each second once it fails, as a service would; briskly while it works.
        await new Promise((r) => setTimeout(r, failed ? 1000 : 20));
      }
    })();
    await waitFor(() => confirmed.length >= 5 * BATCH, {
      timeoutMs: 30_000,
      message: 'replicated publishes did not succeed before the kill',
    });

    const victim = cluster.nodes[1] as RedisServerHandle;
    const killedAt = Date.now();
    await victim.kill();
    await waitForReplicaPromotion(replicas);
    const promotedMs = Date.now() - killedAt;
    // Publishes in flight at the kill and during the promotion may fail any way (outcome
    // unknown); once the client found the promoted primary, they must be refused for what it
    // is, every time, until it has a replica again.
    degraded = true;
    const settled = (): number => refusals.findIndex(isTooFew);
    await waitFor(() => refusals.filter(isTooFew).length >= DEGRADED_REFUSALS, {
      timeoutMs: SETTLE_BOUND_MS,
      message: `publishes were not refused as too few replicas within ${SETTLE_BOUND_MS} ms of the promotion`,
    }).catch((e: unknown) => {
      stopping = true;
      throw new Error(
        `${describe(e)}; refused as: ${refusals.map((r) => `${describe(r.error)} (${r.ms} ms)`).join(' | ')}`,
      );
    });
    degraded = false;
    const steady = refusals.slice(settled());

    // Back as the promoted primary's replica, so its partitions can be replicated again.
    await victim.restart();
    restartedAt = Date.now();
    await waitFor(() => confirmedAfterRestart >= BATCHES_AFTER, {
      timeoutMs: RESUME_BOUND_MS,
      message: `replicated publishing did not resume within ${RESUME_BOUND_MS} ms of the restart (${unknown} unknown, ${otherErrors} other errors)`,
    }).finally(() => (stopping = true));
    await loop;

    // Every confirmed event is on the primary of its slot now.
    const reader = await connect({ url: cluster.url });
    let lost = 0;
    try {
      for (const r of confirmed) {
        const stream = partitionKeys(backend.prefix, topic, r.partition).stream;
        const found = await reader.send<unknown[]>(['XRANGE', stream, r.position, r.position]);
        if (found.length === 0) lost++;
      }
    } finally {
      reader.destroy();
    }
    const slowest = Math.max(...steady.map((r) => r.ms));
    const changed = steady.filter(isConnectionChanged).length;
    console.log(
      `# cluster primary killed: replica promoted after ${promotedMs} ms; without a replica, ` +
        `${refusals.length - steady.length} publishes failed otherwise, then ${steady.length - changed} refused as too few replicas and ${changed} as written on a connection since replaced, in at most ${slowest} ms; ` +
        `killed node restarted as a replica: replicated publishing resumed ${resumedMs} ms later; ` +
        `confirmed ${confirmed.length}, unknown (DurabilityError) ${unknown}, other errors ${otherErrors}, lost ${lost}`,
    );
    assert.equal(lost, 0, `${lost} confirmed events lost`);
    // Refused for what it is, as a too-few-replicas DurabilityError (or, rarely, as written on a
    // connection the client has since replaced), never as a reply timeout.
    for (const r of steady) {
      assert.ok(isTooFew(r) || isConnectionChanged(r), `refused as: ${describe(r.error)}`);
      assert.ok(r.ms <= REFUSAL_BOUND_MS, `refused after ${r.ms} ms: ${describe(r.error)}`);
    }
    assert.ok(resumedMs >= 0 && resumedMs <= RESUME_BOUND_MS, `resumed after ${resumedMs} ms`);
  } finally {
    await backend.close();
    await Promise.all(replicas.map((r) => r.kill()));
    await cluster.stop();
  }
});
