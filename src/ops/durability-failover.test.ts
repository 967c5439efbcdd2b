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
 * - `replicas: 1` of two: the acknowledged events lost are only those Sentinel's choice
 *   gives up: beyond what the promoted replica held when its link was cut, and held by the
 *   other replica. An acknowledged event that no replica held would fail it.
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
 * Until a write on one connection is acknowledged by every replica: a replica counted as
 * connected may not receive the replication stream yet (seen: offset 0 for seconds).
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
  /** Start publishing only once every replica receives the replication stream. */
  replicasStreaming: boolean;
}

async function oneRun(name: string, required: number, options: RunOptions): Promise<RunFigures> {
  const setup = await startSentinelSetup({
    replicas: REPLICAS,
    sentinels: 3,
    quorum: 2,
    // 500 ms made a sentinel see each freshly promoted master as down and fail it over again
    // (seen: four failovers in 3 s, the restarted empty primary promoted once in between).
    downAfterMs: 1000,
    failoverTimeoutMs: 2000,
  });
  const prefix = uniquePrefix(`failover-${name}`);
  const backend = await RedisBackend.connect({ url: setup.url, prefix });
  try {
    if (options.replicasStreaming) {
      await waitUntilReplicasStream(setup.master.port, `${prefix}:ready`);
    }
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
    let stopping = false;
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
    const publishers = Array.from({ length: PUBLISHERS }, () => publisher());

    await waitFor(() => acknowledged.length >= ACKNOWLEDGED_BEFORE, {
      timeoutMs: 20_000,
      message: 'publishes did not succeed before the fault',
    });
    const oldPort = setup.master.port;
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
    for (const r of acknowledged) {
      const found = await commandAt<unknown[]>(masterPort, [
        'XRANGE',
        stream,
        r.position,
        r.position,
      ]);
      if (found.length > 0) continue;
      lost++;
      const beyondPromoted = promoted !== undefined && idAfter(r.position, promoted.lastId);
      const heldByAnother = others.some((o) => !idAfter(r.position, o.lastId));
      if (beyondPromoted && heldByAnother) lostBySentinelChoice++;
    }
    return {
      acknowledged: acknowledged.length,
      unknown,
      otherErrors,
      lost,
      lostBySentinelChoice,
      replicas: frozen,
    };
  } finally {
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
    `other errors ${f.otherErrors}, lost ${f.lost} (by Sentinel's choice ${f.lostBySentinelChoice}); ` +
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
  // The fault was exercised: in every run, publishes were waiting when the primary died.
  for (const [i, f] of figures.entries()) {
    assert.ok(f.unknown + f.otherErrors > 0, `run ${i + 1}: no publish was in flight`);
  }
  return figures;
}

void describe('replicated durability across a Sentinel failover', () => {
  void test('replicas: 2 of 2: no acknowledged event is lost, whichever replica is promoted (5 runs)', async () => {
    const figures = await runs('all', 5, REPLICAS, {
      afterFailover: true,
      replicasStreaming: true,
    });
    const lost = figures.map((f) => f.lost);
    assert.deepEqual(
      lost,
      lost.map(() => 0),
      `acknowledged events lost: ${lost.join(', ')}`,
    );
  });

  void test('replicas: 1 of 2: an acknowledged event is lost only when the replica promoted did not hold it (3 runs)', async () => {
    const figures = await runs('one', 3, 1, {
      afterFailover: false,
      // As a fresh setup is: a replica may get nothing of the stream for seconds, WAIT 1 is
      // satisfied by the other, and Sentinel may promote either.
      replicasStreaming: false,
    });
    const unexplained = figures.map((f) => f.lost - f.lostBySentinelChoice);
    assert.deepEqual(
      unexplained,
      unexplained.map(() => 0),
      `acknowledged events lost that the other replica did not hold either: ${unexplained.join(', ')}`,
    );
  });
});
