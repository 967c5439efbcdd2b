/**
 * `npm run soak -- --minutes 30 [--seed S] [--fault-every 10-20] [--consumers 3] [--faults a,b]`
 *
 * Publishers and consumers in separate processes, talking to a redis-server of its own
 * (AOF, appendfsync always) through a TCP proxy, while a random fault strikes every
 * 10-20 s (consumer SIGKILL, Redis restart, CLIENT KILL, proxy blackhole). Publishers
 * record every acknowledged publish, consumers every finished handler, in files; at the
 * end the soak drains and the delivery checker compares the two: it prints lost,
 * unexpected and duplicates, the faults it injected and the longest stall (no publish
 * acknowledged, or no handler finished), and exits 1 if anything was lost or unexpected or a
 * stall lasted longer than --stall-limit seconds (default 60); 2 on a usage error.
 */
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DeliveryChecker, startTcpProxy } from '../../src/testing/index.ts';
import { errorMessage, startRedisServer } from '../../src/index.ts';
import { SoakChild } from './children.ts';
import { FAULTS, injectFault, seededRandom, type Fault } from './faults.ts';
import { countStillStored } from './stored.ts';

const PROGRESS_EVERY_MS = 10_000;
const DRAIN_POLL_MS = 500;
const WARM_UP_MAX_MS = 120_000;
const STALL_SAMPLE_MS = 1000;

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    seed: { type: 'string' },
    'fault-every': { type: 'string', default: '10-20' },
    publishers: { type: 'string', default: '2' },
    consumers: { type: 'string', default: '3' },
    'drain-seconds': { type: 'string', default: '120' },
    faults: { type: 'string', default: FAULTS.join(',') },
    'stall-limit': { type: 'string', default: '60' },
  },
});

function usage(message: string): never {
  console.error(`soak: ${message}`);
  process.exit(2);
}

const minutes = Number(values.minutes);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const [faultMin, faultMax] = (values['fault-every'] ?? '').split('-').map(Number);
const publisherCount = Number(values.publishers);
const consumerCount = Number(values.consumers);
const drainMs = Number(values['drain-seconds']) * 1000;
const stallLimitMs = Number(values['stall-limit']) * 1000;
if (!(minutes > 0)) usage('--minutes must be a positive number');
if (!Number.isInteger(seed)) usage('--seed must be an integer');
if (!(faultMin !== undefined && faultMax !== undefined && faultMin > 0 && faultMax >= faultMin))
  usage('--fault-every must look like 10-20 (seconds)');
const faultKinds = (values.faults ?? '').split(',').filter((f) => f !== '');
if (faultKinds.length === 0 || !faultKinds.every((f): f is Fault => FAULTS.includes(f as Fault)))
  usage(`--faults must list some of ${FAULTS.join(',')}`);
const kinds = faultKinds;
if (!(publisherCount >= 1 && consumerCount >= 1)) usage('need at least one publisher and consumer');

const random = seededRandom(seed);
const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-soak-'));
const started = Date.now();
const elapsed = (): string => `${Math.round((Date.now() - started) / 1000)}s`.padStart(6);

function readIds(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
}

const redis = await startRedisServer({ appendfsync: 'always', dir: path.join(dir, 'redis') });
const proxy = await startTcpProxy({ host: '127.0.0.1', port: redis.port });
const child = (kind: 'publisher' | 'consumer', i: number): SoakChild =>
  new SoakChild(
    kind,
    `${kind}-${i}`,
    proxy.url,
    path.join(dir, `${kind}-${i}.ids`),
    path.join(dir, `${kind}-${i}.log`),
  );
const consumers = Array.from({ length: consumerCount }, (_, i) => child('consumer', i));
const publishers = Array.from({ length: publisherCount }, (_, i) => child('publisher', i));

interface Tally {
  readonly checker: DeliveryChecker;
  readonly published: number;
  readonly handled: number;
  readonly publishedIds: Set<string>;
  readonly handledIds: Set<string>;
}

function tally(): Tally {
  const checker = new DeliveryChecker();
  const publishedIds = new Set<string>();
  const handledIds = new Set<string>();
  let published = 0;
  let handled = 0;
  for (const p of publishers)
    for (const id of readIds(p.idsFile)) {
      checker.published(id);
      publishedIds.add(id);
      published++;
    }
  for (const c of consumers)
    for (const id of readIds(c.idsFile)) {
      checker.handled(id);
      handledIds.add(id);
      handled++;
    }
  return { checker, published, handled, publishedIds, handledIds };
}

const faultCounts = new Map<Fault, number>(FAULTS.map((f) => [f, 0]));
let faultsFailed = 0;
let lastFault = 'none yet';
let running = true;

console.log(
  `soak: ${minutes} min, seed ${seed}, a fault every ${faultMin}-${faultMax} s, ` +
    `${publisherCount} publishers, ${consumerCount} consumers, faults ${kinds.join(',')}; files in ${dir}`,
);
for (const c of consumers) c.start();
for (const p of publishers) p.start();

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let previousHandled = 0;
let previousPublished = 0;
const progress = setInterval(() => {
  const { published, handled } = tally();
  const up = consumers.filter((c) => c.alive).length;
  console.log(
    `[${elapsed()}] published ${published} (+${published - previousPublished})  ` +
      `handled ${handled} (+${handled - previousHandled})  ` +
      `consumers up ${up}/${consumers.length}  faults ${[...faultCounts.values()].reduce((a, b) => a + b, 0)} (last: ${lastFault})`,
  );
  previousHandled = handled;
  previousPublished = published;
}, PROGRESS_EVERY_MS);

// The clock and the faults start once traffic flows: child processes take seconds to start
// on a busy machine, and faults during start-up would test little.
const warmUpEnd = Date.now() + WARM_UP_MAX_MS;
while (tally().handled === 0) {
  if (Date.now() > warmUpEnd) {
    console.error(`soak: no event was handled within ${WARM_UP_MAX_MS / 1000} s of starting`);
    process.exit(1);
  }
  await sleep(DRAIN_POLL_MS);
}
console.log(`[${elapsed()}] traffic flows: faults start`);
const endAt = Date.now() + minutes * 60_000;

// Stalls: how long no publish was acknowledged, and no handler finished, while the soak ran.
// A client stuck on a dead connection shows here (the checker alone would only see less traffic).
const sizeOf = (children: readonly SoakChild[]): number =>
  children.reduce((n, c) => n + (existsSync(c.idsFile) ? statSync(c.idsFile).size : 0), 0);
const stall = {
  publish: { size: sizeOf(publishers), since: Date.now(), longest: 0 },
  handle: { size: sizeOf(consumers), since: Date.now(), longest: 0 },
};
const stallSampler = setInterval(() => {
  const now = Date.now();
  for (const [s, size] of [
    [stall.publish, sizeOf(publishers)],
    [stall.handle, sizeOf(consumers)],
  ] as const) {
    if (size !== s.size) {
      s.size = size;
      s.since = now;
    }
    s.longest = Math.max(s.longest, now - s.since);
  }
}, STALL_SAMPLE_MS);
const faultLoop = (async () => {
  for (;;) {
    const wait = (faultMin + random() * (faultMax - faultMin)) * 1000;
    if (Date.now() + wait >= endAt) return;
    await sleep(wait);
    if (!running) return;
    const fault = kinds[Math.floor(random() * kinds.length)] as Fault;
    faultCounts.set(fault, (faultCounts.get(fault) ?? 0) + 1);
    try {
      lastFault = `${fault}: ${await injectFault(fault, { redis, proxy, consumers }, random)}`;
    } catch (e) {
      faultsFailed++;
      lastFault = `${fault} failed: ${errorMessage(e)}`;
    }
    console.log(`[${elapsed()}] fault ${lastFault}`);
  }
})();

await sleep(Math.max(0, endAt - Date.now()));
running = false;
clearInterval(stallSampler);
await faultLoop;

// Drain: no more faults, everything up, publishers finish their batch, consumers catch up.
proxy.heal();
console.log(`[${elapsed()}] stopping publishers and draining (at most ${drainMs / 1000} s)`);
await Promise.all(publishers.map((p) => p.stop()));
for (const c of consumers) if (!c.alive) c.start();
const drainEnd = Date.now() + drainMs;
let final = tally();
while (!final.checker.allDelivered() && Date.now() < drainEnd) {
  await sleep(DRAIN_POLL_MS);
  final = tally();
}
const drained = final.checker.allDelivered();
await Promise.all(consumers.map((c) => c.stop()));
clearInterval(progress);
final = tally();
const lostIds = [...final.publishedIds].filter((id) => !final.handledIds.has(id));
const stillStored = lostIds.length > 0 ? await countStillStored(redis.url, lostIds) : 0;
await proxy.close();
await redis.stop();

const report = final.checker.report();
const faultSummary = [...faultCounts].map(([f, n]) => `${f} ${n}`).join(', ');
console.log('');
console.log(`soak result (seed ${seed}, ${minutes} min, faults every ${faultMin}-${faultMax} s)`);
console.log(`  faults:     ${faultSummary}${faultsFailed > 0 ? ` (${faultsFailed} failed)` : ''}`);
console.log(`  consumer restarts: ${consumers.reduce((n, c) => n + c.starts - 1, 0)}`);
console.log(`  published:  ${report.published} (acknowledged)`);
console.log(`  handled:    ${report.delivered}`);
console.log(
  `  lost:       ${report.lost}${report.lost > 0 ? `  e.g. ${report.lostIds.slice(0, 5).join(' ')}` : ''}`,
);
console.log(
  `  unexpected: ${report.unexpected}${report.unexpected > 0 ? `  e.g. ${report.unexpectedIds.slice(0, 5).join(' ')}` : ''}`,
);
console.log(`  duplicates: ${report.duplicates}`);
const stalled = Math.max(stall.publish.longest, stall.handle.longest) > stallLimitMs;
console.log(
  `  longest stall: publishing ${Math.round(stall.publish.longest / 1000)} s, ` +
    `handling ${Math.round(stall.handle.longest / 1000)} s` +
    (stalled ? `  (over the ${stallLimitMs / 1000} s limit: STALLED)` : ''),
);
if (!drained) console.log(`  drain: not every event was handled within ${drainMs / 1000} s`);
if (lostIds.length > 0)
  console.log(
    `  of the lost: ${stillStored} still stored in Redis (never handled: a stalled consumer), ` +
      `${lostIds.length - stillStored} not found`,
  );
console.log(`  logs and ids: ${dir}`);
process.exit(report.lost > 0 || report.unexpected > 0 || stalled ? 1 : 0);
