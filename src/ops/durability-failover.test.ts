/**
 * Replicated durability across a real Sentinel failover (issue 8, part 1): one primary, two
 * replicas, three sentinels. Publishers keep publishing with `durability: replicated`; the
 * primary's replication links are cut (its replicas are disconnected and can no longer
 * authenticate to reconnect), then the primary is SIGKILLed 600 ms later. Events written
 * after the cut exist only on the dead primary. Publishes that could not be confirmed fail
 * with a DurabilityError (outcome unknown); their number is printed.
 *
 * Two guarantees, each checked exactly:
 * - `replicas: 2` (every replica that can be promoted): whichever one Sentinel promotes has
 *   every acknowledged event, lost = 0. The killed primary is restarted and rejoins as a
 *   replica, so the new master has two replicas again and publishes are acknowledged after
 *   the failover too.
 * - `replicas: 1` of two: one replica's link is cut first and Sentinel is made to prefer it
 *   (replica-priority), so it is promoted without the publishes the other confirmed alone
 *   meanwhile. Exactly those are lost: every one beyond what the promoted replica held and
 *   within what the other held, and nothing else (an acknowledged event no replica held, or
 *   one of those surviving, fails it).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { DurabilityError } from '../core/errors.ts';
import type { PublishReceipt } from '../core/event.ts';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { uniquePrefix, waitFor } from '../test-support/redis.ts';
import {
  commandAt,
  cutReplicationLinks,
  infoAt,
  startSentinelSetup,
  type SentinelSetup,
} from '../test-support/topology.ts';
import { enableDurability } from './durability.ts';

const PUBLISHERS = 8;
const REPLICAS = 2;
/** The setup: the primary dies this long after its replication links were cut. */
const KILL_AFTER_CUT_MS = 600;
/** Long enough that publishes are still blocked in WAIT when the primary dies. */
const WAIT_TIMEOUT_MS = 3000;
/** Acknowledged publishes required before the fault, and after the failover. */
const ACKNOWLEDGED_BEFORE = 50;
const ACKNOWLEDGED_AFTER = 20;
/** Publishes confirmed by one replica alone before the fault, when the other lags. */
const ACKNOWLEDGED_WHILE_LAGGING = 20;
/** replica-priority that makes Sentinel prefer a replica (the default is 100). */
const PREFERRED = 1;

/** A replica whose links are cut: what it holds can no longer change until the failover. */
interface FrozenReplica {
  port: number;
  /** slave_repl_offset when frozen. */
  offset: number;
  /** The last entry of the stream it held ('0-0' when none). */
  lastId: string;
  promoted: boolean;
}

interface RunFigures {
  acknowledged: number;
  unknown: number;
  otherErrors: number;
  lost: number;
  /** Lost events beyond the promoted replica's last entry and held by another replica. */
  lostBySentinelChoice: number;
  /** Acknowledged events beyond the promoted replica's last entry and held by another replica. */
  acknowledgedOnlyElsewhere: number;
  /** The promoted replica first. */
  replicas: FrozenReplica[];
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Stream ids compared as (ms, seq). */
function idAfter(a: string, b: string): boolean {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am > bm || (am === bm && as > bs);
}

async function frozenReplica(port: number, stream: string): Promise<FrozenReplica> {
  const [info, last] = await Promise.all([
    infoAt(port, 'replication'),
    commandAt<[string, unknown][]>(port, ['XREVRANGE', stream, '+', '-', 'COUNT', '1']),
  ]);
  return {
    port,
    offset: Number(info.slave_repl_offset ?? -1),
    lastId: last[0]?.[0] ?? '0-0',
    promoted: false,
  };
}

/**
 * Restarts the killed primary (empty: no persistence; and without the password the cut set,
 * which CONFIG SET does not persist) and attaches it to the new master, as Sentinel would
 * (Sentinel waits 8 s before converting a returning master). Resolves once it is in sync.
 */
async function rejoinAsReplica(setup: SentinelSetup, masterPort: number): Promise<void> {
  await setup.master.restart();
  // Fails with NOAUTH if the cut's password had survived the restart.
  await commandAt(setup.master.port, ['REPLICAOF', '127.0.0.1', String(masterPort)]);
  await waitFor(
    async () => (await infoAt(setup.master.port, 'replication')).master_link_status === 'up',
    { timeoutMs: 30_000, intervalMs: 50, message: 'the restarted primary did not sync' },
  );
}

/**
 * Until a write on one connection is acknowledged by every replica: a replica just synchronised
 * (without disk) is listed as connected but gets no replication stream until its first
 * REPLCONF ACK, up to a second later (seen: one replica still at offset 0 when the links were cut).
 */
async function waitUntilReplicasStream(port: number, key: string): Promise<void> {
  const client = createClient({ socket: { host: '127.0.0.1', port, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  try {
    await waitFor(
      async () => {
        await client.sendCommand(['SET', key, '1']);
        return Number(await client.sendCommand(['WAIT', String(REPLICAS), '100'])) >= REPLICAS;
      },
      { timeoutMs: 20_000, message: 'the replicas did not receive the replication stream' },
    );
  } finally {
    client.destroy();
  }
}

interface RunOptions {
  /** Publish after the failover too (the killed primary rejoins as a replica). */
  afterFailover: boolean;
  /**
   * Cut the first replica's link alone first, until ACKNOWLEDGED_WHILE_LAGGING more publishes
   * were confirmed by the other, and make Sentinel prefer the lagging one (replica-priority).
   */
  promoteLagging: boolean;
}

async function oneRun(name: string, required: number, options: RunOptions): Promise<RunFigures> {
  const setup = await startSentinelSetup({
    replicas: REPLICAS,
    sentinels: 3,
    quorum: 2,
    // 500 ms made a sentinel see each freshly promoted master as down and fail it over again
    // (seen: four failovers in 3 s, once promoting the killed primary, just restarted and
    // resynchronised).
    downAfterMs: 1000,
    failoverTimeoutMs: 2000,
  });
  const prefix = uniquePrefix(`failover-${name}`);
  const backend = await RedisBackend.connect({ url: setup.url, prefix });
  let stopping = false;
  let publishers: Promise<void>[] = [];
  try {
    await waitUntilReplicasStream(setup.master.port, `${prefix}:ready`);
    await enableDurability(backend);
    const topic = defineTopic({ name: 'payments' });
    const stream = partitionKeys(backend.prefix, topic, 0).stream;
    const publishOptions = {
      durability: { mode: 'replicated', replicas: required, timeoutMs: WAIT_TIMEOUT_MS },
      timeoutMs: 20_000,
    } as const;
    const acknowledged: PublishReceipt[] = [];
    let unknown = 0;
    let otherErrors = 0;
    let n = 0;
    const publisher = async (): Promise<void> => {
      while (!stopping) {
        try {
          acknowledged.push(await backend.publish(topic, { data: { n: n++ } }, publishOptions));
        } catch (e) {
          if (e instanceof DurabilityError) unknown++;
          else otherErrors++;
          // A client that fails fast while the master is gone must not spin.
          await pause(20);
        }
      }
    };
    publishers = Array.from({ length: PUBLISHERS }, () => publisher());

    await waitFor(() => acknowledged.length >= ACKNOWLEDGED_BEFORE, {
      timeoutMs: 20_000,
      message: 'publishes did not succeed before the fault',
    });
    const oldPort = setup.master.port;
    const lagging = options.promoteLagging ? setup.replicas[0] : undefined;
    if (lagging !== undefined) {
      // Sentinel promotes by priority first (lower wins), then by replication offset.
      await commandAt(lagging.port, ['CONFIG', 'SET', 'replica-priority', String(PREFERRED)]);
      await cutReplicationLinks(oldPort, [lagging.port]);
      const cutAt = acknowledged.length;
      await waitFor(() => acknowledged.length >= cutAt + ACKNOWLEDGED_WHILE_LAGGING, {
        timeoutMs: 20_000,
        message: 'publishes were not confirmed by the other replica',
      });
    }
    await cutReplicationLinks(oldPort);
    await pause(KILL_AFTER_CUT_MS);
    await setup.master.kill();
    const frozen = await Promise.all(setup.replicas.map((r) => frozenReplica(r.port, stream)));
    const newPort = await setup.waitForFailover(oldPort, 30_000);
    for (const f of frozen) f.promoted = f.port === newPort;
    frozen.sort((a, b) => Number(b.promoted) - Number(a.promoted));
    if (options.afterFailover) {
      await rejoinAsReplica(setup, newPort);
      // Publishing goes on until some publishes were confirmed by the new master's replicas.
      const afterFailover = acknowledged.length;
      await waitFor(() => acknowledged.length >= afterFailover + ACKNOWLEDGED_AFTER, {
        timeoutMs: 30_000,
        message: 'publishes did not succeed after the failover',
      });
    }
    stopping = true;
    await Promise.all(publishers);

    // Every acknowledged event must be on the master, at the position its receipt names.
    const masterPort = options.afterFailover ? await setup.masterPort() : newPort;
    const [promoted, ...others] = frozen;
    let lost = 0;
    let lostBySentinelChoice = 0;
    let acknowledgedOnlyElsewhere = 0;
    for (const r of acknowledged) {
      const beyondPromoted = promoted !== undefined && idAfter(r.position, promoted.lastId);
      const heldByAnother = others.some((o) => !idAfter(r.position, o.lastId));
      if (beyondPromoted && heldByAnother) acknowledgedOnlyElsewhere++;
      const found = await commandAt<unknown[]>(masterPort, [
        'XRANGE',
        stream,
        r.position,
        r.position,
      ]);
      if (found.length > 0) continue;
      lost++;
      if (beyondPromoted && heldByAnother) lostBySentinelChoice++;
    }
    return {
      acknowledged: acknowledged.length,
      unknown,
      otherErrors,
      lost,
      lostBySentinelChoice,
      acknowledgedOnlyElsewhere,
      replicas: frozen,
    };
  } finally {
    // Publishers still running when a run fails stop too.
    stopping = true;
    await Promise.all(publishers);
    await backend.close();
    await setup.stop();
  }
}

function describeRun(run: number, f: RunFigures): string {
  const replicas = f.replicas
    .map((r) => `${r.promoted ? 'promoted' : 'other'} offset ${r.offset} last ${r.lastId}`)
    .join(', ');
  return (
    `run ${run}: acknowledged ${f.acknowledged}, unknown (DurabilityError) ${f.unknown}, ` +
    `other errors ${f.otherErrors}, lost ${f.lost} (by Sentinel's choice ${f.lostBySentinelChoice} ` +
    `of ${f.acknowledgedOnlyElsewhere} acknowledged beyond the promoted replica); ` +
    `replicas when cut: ${replicas}`
  );
}

async function runs(
  name: string,
  count: number,
  required: number,
  options: RunOptions,
): Promise<RunFigures[]> {
  const figures: RunFigures[] = [];
  for (let run = 1; run <= count; run++) {
    const f = await oneRun(`${name}${run}`, required, options);
    figures.push(f);
    console.log(`${name} ${describeRun(run, f)}`);
  }
  return figures;
}

/** The fault was exercised: in every run, publishes were waiting when the primary died. */
function assertPublishesWereInFlight(figures: readonly RunFigures[]): void {
  for (const [i, f] of figures.entries()) {
    assert.ok(f.unknown + f.otherErrors > 0, `run ${i + 1}: no publish was in flight`);
  }
}

void describe('replicated durability across a Sentinel failover', () => {
  void test('replicas: 2 of 2: no acknowledged event is lost, whichever replica is promoted (5 runs)', async () => {
    const figures = await runs('all', 5, REPLICAS, {
      afterFailover: true,
      promoteLagging: false,
    });
    const lost = figures.map((f) => f.lost);
    assert.deepEqual(
      lost,
      lost.map(() => 0),
      `acknowledged events lost: ${lost.join(', ')}`,
    );
    assertPublishesWereInFlight(figures);
  });

  void test('replicas: 1 of 2: when Sentinel promotes the replica that did not confirm, exactly what only the other held is lost (2 runs)', async () => {
    const figures = await runs('one', 2, 1, { afterFailover: false, promoteLagging: true });
    for (const [i, f] of figures.entries()) {
      const [promoted, other] = f.replicas;
      assert.ok(
        promoted !== undefined && other !== undefined && promoted.offset < other.offset,
        `run ${i + 1}: the lagging replica was not the one promoted`,
      );
      // Some of the publishes confirmed meanwhile were written before the cut: fewer than
      // ACKNOWLEDGED_WHILE_LAGGING may be beyond the lagging replica, never none.
      assert.ok(
        f.acknowledgedOnlyElsewhere > 0,
        `run ${i + 1}: no publish was confirmed by the other replica alone`,
      );
      // Nothing lost but what the promoted replica lacked and the other held: Herald
      // acknowledged nothing that no replica had.
      assert.equal(
        f.lost,
        f.lostBySentinelChoice,
        `run ${i + 1}: ${f.lost - f.lostBySentinelChoice} lost acknowledged events that no replica held`,
      );
      // And all of that is lost: `replicas: 1` of two does not survive this promotion.
      assert.equal(
        f.lost,
        f.acknowledgedOnlyElsewhere,
        `run ${i + 1}: lost ${f.lost} of the ${f.acknowledgedOnlyElsewhere} the promoted replica lacked`,
      );
    }
    assertPublishesWereInFlight(figures);
  });
});
