/**
 * One benchmark scenario in this process, with what the garbage collector did during it: the
 * minor GCs (scavenges: count, median and longest pause), the other GCs (mark-compact,
 * incremental marking, weak callbacks: count and longest pause) and, with `--alloc`, the megabytes
 * allocated (V8's sampling heap profiler, every object counted whether it died young or not;
 * node-redis's one-off build of its client class is left out). A diagnostic, not part of
 * `npm run bench`: run it several times, whole processes, to see how a figure varies from one
 * process to the next. Deletes the keys it wrote, as the benchmark does.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx bench/scenario-gc.ts herald-latency-10k [--alloc]
 *   REDIS_URL=… node --no-allocation-site-pretenuring --import tsx bench/scenario-gc.ts herald-e2e
 */
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { DEFAULT_EVENTS, eventsFor, scenarioById } from './catalogue.ts';
import { deleteKeys } from './cleanup.ts';
import { RedisProbe } from './probe.ts';
import { costFigures } from './types.ts';

interface SampledNode {
  id: number;
  callFrame: { functionName: string };
  children: SampledNode[];
}
interface SamplingProfile {
  head: SampledNode;
  samples: { size: number; nodeId: number }[];
}

/** Bytes sampled, without node-redis's client class build (once per client configuration). */
function allocatedBytes(profile: SamplingProfile): number {
  const inBuild = new Set<number>();
  const walk = (n: SampledNode, below: boolean): void => {
    const here = below || n.callFrame.functionName === 'attachConfig';
    if (here) inBuild.add(n.id);
    for (const c of n.children) walk(c, here);
  };
  walk(profile.head, false);
  let bytes = 0;
  for (const s of profile.samples) if (!inBuild.has(s.nodeId)) bytes += s.size;
  return bytes;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { alloc: { type: 'boolean' }, events: { type: 'string' } },
});
const id = positionals[0];
const url = process.env.REDIS_URL;
if (id === undefined || url === undefined) {
  process.stderr.write(
    'usage: REDIS_URL=… node --import tsx bench/scenario-gc.ts <scenario> [--alloc]\n',
  );
  process.exit(2);
}
const pauses: number[] = [];
/** Pauses of the other kinds: mark-compact, incremental marking, weak callbacks. */
const majorPauses: number[] = [];
let measuring = false;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as { detail?: { kind?: number } }).detail?.kind;
    if (!measuring) continue;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) pauses.push(e.duration);
    else majorPauses.push(e.duration);
  }
}).observe({ entryTypes: ['gc'] });

const probe = await RedisProbe.connect(url);
const def = scenarioById(id);
const run = await def.load();
const inspector = new Session();
inspector.connect();
if (values.alloc) {
  await inspector.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    // Node 20's types do not know these two yet; V8 does.
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  } as { samplingInterval: number });
}
const token = randomBytes(4).toString('hex');
measuring = true;
const result = await run({
  url,
  token,
  keyPrefix: `bench:${token}`,
  // As many events as the benchmark's own run of this scenario.
  events: eventsFor(def, Number(values.events ?? DEFAULT_EVENTS)),
  quick: false,
  probe,
  progress: () => {},
});
measuring = false;
let allocated = '';
if (values.alloc) {
  const { profile } = (await inspector.post('HeapProfiler.stopSampling')) as unknown as {
    profile: SamplingProfile;
  };
  allocated = ` allocated ${(allocatedBytes(profile) / 1e6).toFixed(1)} MB`;
}
inspector.disconnect();
pauses.sort((a, b) => a - b);
majorPauses.sort((a, b) => a - b);
const l = result.latency;
const figures = costFigures(result);
process.stdout.write(
  `${id}: ${result.rate.toFixed(0)} events/s, ${figures.nodeCpuUsPerEvent.toFixed(1)} µs Node CPU/event` +
    (l ? `, p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms` : '') +
    `; minor GCs ${pauses.length}, median ${(pauses[pauses.length >> 1] ?? 0).toFixed(1)} ms, ` +
    `longest ${(pauses.at(-1) ?? 0).toFixed(1)} ms; other GCs ${majorPauses.length}, ` +
    `longest ${(majorPauses.at(-1) ?? 0).toFixed(1)} ms${allocated}\n`,
);
await deleteKeys(url, token);
await probe.close();
// Scenario clients may leave timers behind (as in bench/child.ts): the figures are out, leave.
process.exit(0);
