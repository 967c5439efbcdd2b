/**
 * The scale benchmark end to end in its quick mode: a standalone redis-server and a 3-primary
 * cluster, 2 producer and 2 consumer processes, a few thousand events. Every event must be
 * handled, every shard of the cluster must store some, and the report must carry the per-event
 * costs and the projection. Also the projection's arithmetic.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { firstToRunOut, nodeCoresPerRedisCore, project } from './projection.ts';

const run = promisify(execFile);
const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.ts');
/** The bound for the quick mode. */
const QUICK_LIMIT_MS = 60_000;

interface Run {
  shards: number;
  events: number;
  handled: number;
  eventsPerSecond: number;
  producerCpuMicrosPerEvent: number;
  consumerCpuMicrosPerEvent: number;
  redisCpuMicrosPerEvent: number;
  perShard: { events: number; cpuMicrosPerEvent: number }[];
}

void test('bench:scale --quick runs 1 and 3 shards, handles every event and prints the projection', async () => {
  const t0 = performance.now();
  const { stdout } = await run(process.execPath, ['--import', 'tsx', MAIN, '--quick', '--json'], {
    timeout: QUICK_LIMIT_MS,
  }).catch((e: { code?: number; stdout?: string; stderr?: string }) => {
    assert.fail(`bench:scale exited ${e.code}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  });
  const ms = performance.now() - t0;
  const json = stdout.trimEnd().split('\n').at(-1) ?? '';
  const { runs } = JSON.parse(json) as { runs: Run[] };
  assert.deepEqual(
    runs.map((r) => r.shards),
    [1, 3],
  );
  for (const r of runs) {
    assert.ok(r.handled >= r.events, `${r.shards} shards: handled ${r.handled} of ${r.events}`);
    assert.equal(r.perShard.length, r.shards);
    assert.equal(
      r.perShard.reduce((n, s) => n + s.events, 0),
      r.events,
      'every event is stored on some shard',
    );
    for (const s of r.perShard) {
      assert.ok(s.events > 0, `${r.shards} shards: a shard stores nothing`);
      assert.ok(s.cpuMicrosPerEvent > 0);
    }
    assert.ok(r.eventsPerSecond > 0 && r.producerCpuMicrosPerEvent > 0);
    assert.ok(r.consumerCpuMicrosPerEvent > 0 && r.redisCpuMicrosPerEvent > 0);
  }
  assert.match(stdout, /^projection from the 3-shard run/m);
  assert.match(stdout, /^ +24 +[\d,]+ ev\/s/m);
  assert.match(stdout, /runs out first/);
  assert.ok(ms < QUICK_LIMIT_MS, `took ${ms} ms`);
});

void test('the projection: Redis-bound, Node cores needed, shared cores', () => {
  const cost = { redisMicros: 20, producerMicros: 30, consumerMicros: 50 };
  const [one, four] = project(cost, [1, 4]);
  assert.equal(one?.redisBoundEventsPerSecond, 50_000);
  assert.equal(one?.nodeCoresAtRedisBound, 4);
  assert.equal(one?.sharedCoresEventsPerSecond, 10_000);
  assert.equal(four?.redisBoundEventsPerSecond, 200_000);
  assert.equal(four?.sharedCoresEventsPerSecond, 40_000);
  assert.equal(nodeCoresPerRedisCore(cost), 4);
  assert.match(firstToRunOut(cost), /^Node runs out first/);
  assert.match(
    firstToRunOut({ redisMicros: 100, producerMicros: 20, consumerMicros: 30 }),
    /^Redis runs out first/,
  );
});
