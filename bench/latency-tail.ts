/**
 * What the tail of a latency run is made of: the open loop of the latency scenarios
 * (bench/drive.ts) at 10k events/s, once, with each event's send and delivery time and every
 * minor GC's pause recorded.
 * Prints p50/p99, the share of events whose flight overlapped a minor GC, how many of the
 * events at or over the p99 did, the p99 of the events that did not, and the clusters the
 * slow events come in (events sent within 5 ms of each other). A diagnostic, not part of
 * `npm run bench`: run it several times, whole processes, against the same Redis.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/latency-tail.ts herald|raw|raw-multi [--clusters]
 */
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { deleteKeys } from './cleanup.ts';
import { openLoop, type Pipe } from './drive.ts';
import { RedisProbe } from './probe.ts';
import { HeraldPipe } from './scenarios/herald.ts';
import { RawPipe } from './scenarios/raw.ts';
import type { ScenarioContext } from './types.ts';

const RATE = 10_000;
const WARM_MS = 500;
const WINDOW_MS = 10_000;
const DRAIN_TIMEOUT_MS = 30_000;
/** Slow events sent less than this apart belong to one cluster (one stall). */
const CLUSTER_GAP_MS = 5;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { clusters: { type: 'boolean' } },
});
const kind = positionals[0];
const url = process.env.REDIS_URL;
if (url === undefined || (kind !== 'herald' && kind !== 'raw' && kind !== 'raw-multi')) {
  process.stderr.write(
    'usage: REDIS_URL=… node --import tsx bench/latency-tail.ts herald|raw|raw-multi [--clusters]\n',
  );
  process.exit(2);
}

const pauses: [start: number, end: number][] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const detail = (e as { detail?: { kind?: number } }).detail;
    if (detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR)
      pauses.push([e.startTime, e.startTime + e.duration]);
  }
}).observe({ entryTypes: ['gc'] });

const keyPrefix = `bench:tail-${randomBytes(4).toString('hex')}`;
const probe = await RedisProbe.connect(url);
const ctx = { url, keyPrefix, probe } as unknown as ScenarioContext;
const pipe: Pipe =
  kind === 'herald'
    ? await HeraldPipe.open(ctx)
    : await RawPipe.open(url, `${keyPrefix}:raw`, 'timeout0', kind === 'raw-multi');

try {
  await openLoop(pipe, RATE, WARM_MS, 1, DRAIN_TIMEOUT_MS);
  pauses.length = 0;
  // The benchmark's own open loop: each delivery's latency and time, in the order of delivery.
  const o = await openLoop(pipe, RATE, WINDOW_MS, 1, DRAIN_TIMEOUT_MS);
  const latency = Array.from(o.fromSend);
  const got = o.deliveredAt;
  const sent = got.map((at, i) => at - (latency[i] as number));
  let firstSent = Infinity;
  for (const t of sent) firstSent = Math.min(firstSent, t);
  const inPause = latency.map((_, i) =>
    pauses.some(([a, b]) => a < (got[i] as number) && b > (sent[i] as number)),
  );
  const quantile = (sorted: number[], q: number): number =>
    sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  const sorted = [...latency].sort((a, b) => a - b);
  const p99 = quantile(sorted, 0.99);
  const slow = latency.flatMap((l, i) => (l >= p99 ? [i] : []));
  const notInPause = latency.filter((_, i) => !inPause[i]).sort((a, b) => a - b);
  const pauseMs = pauses.map(([a, b]) => b - a).sort((a, b) => a - b);
  // Slow events in the order they were sent, grouped into clusters.
  const clusters: { from: number; to: number; events: number; inPause: number; worst: number }[] =
    [];
  for (const i of slow.sort((a, b) => (sent[a] as number) - (sent[b] as number))) {
    const at = (sent[i] as number) - firstSent;
    const last = clusters.at(-1);
    if (last !== undefined && at - last.to < CLUSTER_GAP_MS) {
      last.to = at;
      last.events++;
      if (inPause[i]) last.inPause++;
      last.worst = Math.max(last.worst, latency[i] as number);
    } else {
      const worst = latency[i] as number;
      clusters.push({ from: at, to: at, events: 1, inPause: inPause[i] ? 1 : 0, worst });
    }
  }
  const pct = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(1)} %`;
  console.log(
    `${kind}: p50 ${quantile(sorted, 0.5).toFixed(2)} ms, p99 ${p99.toFixed(2)} ms; ` +
      `${pauses.length} minor GCs (median ${(quantile(pauseMs, 0.5) || 0).toFixed(2)} ms); ` +
      `events in flight during one: ${pct(inPause.filter(Boolean).length, latency.length)}; ` +
      `of the ${slow.length} at or over the p99: ${pct(slow.filter((i) => inPause[i]).length, slow.length)} in one, ` +
      `in ${clusters.length} clusters (largest ${Math.max(...clusters.map((c) => c.events))}); ` +
      `p99 without the events in a GC: ${quantile(notInPause, 0.99).toFixed(2)} ms`,
  );
  if (values.clusters) {
    for (const c of clusters) {
      console.log(
        `  sent ${c.from.toFixed(1)}–${c.to.toFixed(1)} ms: ${c.events} events, worst ${c.worst.toFixed(2)} ms, ${c.inPause} in a GC`,
      );
    }
  }
} finally {
  await pipe.close();
  await deleteKeys(url, keyPrefix);
  await probe.close();
}
process.exit(0);
