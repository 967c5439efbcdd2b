/**
 * Replicated durability across a real Sentinel failover (issue 8, part 1): one primary, two
 * replicas, three sentinels. Publishers keep publishing with `durability: replicated`; the
 * primary's replication links are cut (its replicas are disconnected and can no longer
 * authenticate to reconnect), then the primary is SIGKILLed 600 ms later. Events written
 * after the cut exist only on the dead primary. A publish that resolved OK must have its
 * event on the new master: lost = 0. Publishes that could not be confirmed fail with a
 * DurabilityError (outcome unknown); their number is printed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
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
} from '../test-support/topology.ts';
import { enableDurability } from './durability.ts';

const RUNS = 5;
const PUBLISHERS = 8;
/** The setup: the primary dies this long after its replication links were cut. */
const KILL_AFTER_CUT_MS = 600;
/** Long enough that publishes are still blocked in WAIT when the primary dies. */
const WAIT_TIMEOUT_MS = 3000;

interface RunFigures {
  acknowledged: number;
  unknown: number;
  otherErrors: number;
  lost: number;
  /** Each replica as its links froze it, the promoted one first. */
  replicas: FrozenReplica[];
  /** Lost events beyond the promoted replica's last entry / at or before another replica's. */
  lostBeyondPromoted: number;
  lostOnAnotherReplica: number;
}

/** A replica whose links are cut: what it holds can no longer change until the failover. */
interface FrozenReplica {
  port: number;
  offset: number;
  /** The last entry of the stream it holds ('0-0' when none). */
  lastId: string;
  promoted: boolean;
  link: string;
}

async function frozenReplica(port: number, stream: string): Promise<FrozenReplica> {
  const [info, last] = await Promise.all([
    infoAt(port, 'replication'),
    commandAt<[string, unknown][]>(port, ['XREVRANGE', stream, '+', '-', 'COUNT', '1']),
  ]);
  return {
    port,
    offset: Number(info.slave_repl_offset ?? info.master_repl_offset ?? -1),
    lastId: last[0]?.[0] ?? '0-0',
    promoted: false,
    link: `${info.master_link_status} sync ${info.master_sync_in_progress} down ${info.master_link_down_since_seconds}s`,
  };
}

/** Stream ids compared as (ms, seq). */
function idAfter(a: string, b: string): boolean {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am > bm || (am === bm && as > bs);
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function oneRun(run: number): Promise<RunFigures> {
  const setup = await startSentinelSetup({
    replicas: 2,
    sentinels: 3,
    downAfterMs: 500,
    failoverTimeoutMs: 2000,
  });
  const backend = await RedisBackend.connect({
    url: setup.url,
    prefix: uniquePrefix(`failover${run}`),
  });
  try {
    await enableDurability(backend);
    const topic = defineTopic({ name: 'payments' });
    const stream = partitionKeys(backend.prefix, topic, 0).stream;
    const options = {
      durability: { mode: 'replicated', replicas: 1, timeoutMs: WAIT_TIMEOUT_MS },
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
          acknowledged.push(await backend.publish(topic, { data: { n: n++ } }, options));
        } catch (e) {
          if (e instanceof DurabilityError) unknown++;
          else otherErrors++;
          // A client that fails fast while the master is gone must not spin.
          await pause(20);
        }
      }
    };
    const publishers = Array.from({ length: PUBLISHERS }, () => publisher());

    await waitFor(() => acknowledged.length >= 50, {
      timeoutMs: 20_000,
      message: 'publishes did not succeed before the fault',
    });
    const oldPort = setup.master.port;
    const masterView = await infoAt(oldPort, 'replication');
    const replicaViews = await Promise.all(
      setup.replicas.map((r) => infoAt(r.port, 'replication')),
    );
    const replicaLogs = setup.replicas.map((r) => r.output());
    await cutReplicationLinks(oldPort);
    await pause(KILL_AFTER_CUT_MS);
    await setup.master.kill();
    const frozen = await Promise.all(setup.replicas.map((r) => frozenReplica(r.port, stream)));
    const newPort = await setup.waitForFailover(oldPort, 30_000);
    for (const f of frozen) f.promoted = f.port === newPort;
    frozen.sort((a, b) => Number(b.promoted) - Number(a.promoted));
    // Publishing goes on until some publishes were confirmed by the new master's replica.
    const afterFailover = acknowledged.length;
    await waitFor(() => acknowledged.length >= afterFailover + 20, {
      timeoutMs: 30_000,
      message: 'publishes did not succeed after the failover',
    });
    stopping = true;
    await Promise.all(publishers);

    // Every acknowledged event must be on the new master, at the position its receipt names.
    let lost = 0;
    let lostBeyondPromoted = 0;
    let lostOnAnotherReplica = 0;
    const [promoted, ...others] = frozen;
    const lostIds: string[] = [];
    for (const r of acknowledged) {
      const found = await commandAt<unknown[]>(newPort, ['XRANGE', stream, r.position, r.position]);
      if (found.length > 0) continue;
      lost++;
      lostIds.push(r.position);
      if (promoted !== undefined && idAfter(r.position, promoted.lastId)) lostBeyondPromoted++;
      if (others.some((o) => !idAfter(r.position, o.lastId))) lostOnAnotherReplica++;
    }
    if (lost > 0 || new Set(frozen.map((f) => f.offset)).size > 1) {
      console.log(`master before cut: ${JSON.stringify(masterView)}`);
      for (const [i, v] of replicaViews.entries()) {
        console.log(`replica ${i} before cut: ${JSON.stringify(v)}\n${replicaLogs[i]}`);
      }
      for (const [i, r] of setup.replicas.entries()) {
        console.log(
          `replica ${i} (${r.port}) ${frozen.find((f) => f.port === r.port)?.link}:\n${r.output()}`,
        );
      }
      console.log(`run ${run}: lost ${lostIds.join(' ')}`);
      for (const s of setup.sentinels) {
        const lines = s
          .output()
          .split('\n')
          .filter((l) => /selected-slave|failover-state|elected-leader|abort/.test(l));
        console.log(`sentinel ${s.port}:\n${lines.join('\n')}`);
      }
    }
    return {
      acknowledged: acknowledged.length,
      unknown,
      otherErrors,
      lost,
      replicas: frozen,
      lostBeyondPromoted,
      lostOnAnotherReplica,
    };
  } finally {
    await backend.close();
    await setup.stop();
  }
}

void describe('replicated durability across a Sentinel failover', () => {
  void test(`no acknowledged event is lost when the primary dies with its replication links cut (${RUNS} runs)`, async () => {
    const figures: RunFigures[] = [];
    for (let run = 1; run <= RUNS; run++) {
      const f = await oneRun(run);
      figures.push(f);
      console.log(
        `run ${run}: acknowledged ${f.acknowledged}, unknown (DurabilityError) ${f.unknown}, ` +
          `other errors ${f.otherErrors}, lost ${f.lost} (beyond the promoted replica ` +
          `${f.lostBeyondPromoted}, on another replica ${f.lostOnAnotherReplica}); replicas frozen: ` +
          f.replicas
            .map(
              (r) =>
                `${r.port}${r.promoted ? ' (promoted)' : ''} offset ${r.offset} last ${r.lastId}`,
            )
            .join(', '),
      );
    }
    const lost = figures.reduce((s, f) => s + f.lost, 0);
    assert.equal(lost, 0, `acknowledged events lost: ${figures.map((f) => f.lost).join(', ')}`);
    // The fault was exercised: in every run, publishes were waiting when the primary died.
    for (const [i, f] of figures.entries()) {
      assert.ok(f.unknown + f.otherErrors > 0, `run ${i + 1}: no publish was in flight`);
    }
  });
});
