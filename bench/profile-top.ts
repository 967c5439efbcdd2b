/**
 * Summarises V8 CPU profiles (from `npm run bench -- --profile DIR`): self time
 * by function, and total (inclusive) time for functions matching a filter.
 *
 *   node --import tsx bench/profile-top.ts DIR/*.cpuprofile [--top 30] [--match src/] [--by-origin]
 *
 * `--by-origin` also sums self time by where the code comes from (Herald's src/, the bench's
 * own loops, node-redis, other libraries, Node's JavaScript, the garbage collector, native code), as
 * shares of the busy time (idle left out). A builtin such as JSON.parse counts in the function
 * that called it.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function where(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url.replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/');
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string' },
    match: { type: 'string' },
    'by-origin': { type: 'boolean' },
  },
});
const top = Number(values.top ?? 30);
const self = new Map<string, number>();
const total = new Map<string, number>();
const byOrigin = new Map<string, number>();
let all = 0;
let idle = 0;

/** Where a frame's code comes from (see --by-origin). */
function origin(n: ProfileNode): string {
  const { url, functionName } = n.callFrame;
  if (url.includes('/node_modules/'))
    return url.includes('/@redis/') ? 'node-redis' : 'other libraries';
  if (url.includes('/src/')) return 'Herald (src/)';
  if (url.includes('/bench/')) return 'benchmark loops (bench/)';
  if (url.startsWith('node:')) return "Node's JavaScript";
  if (functionName === '(garbage collector)') return 'garbage collector';
  if (url === '') return 'native (syscalls, encoding, …)';
  return 'other JavaScript';
}
for (const file of positionals) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    const n = byId.get(id);
    if (!n) return;
    all += dt;
    self.set(where(n), (self.get(where(n)) ?? 0) + dt);
    if (n.callFrame.functionName === '(idle)') idle += dt;
    else {
      const from = origin(n);
      byOrigin.set(from, (byOrigin.get(from) ?? 0) + dt);
    }
    // Inclusive time: every distinct frame on the stack, once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node) break;
      const key = where(node);
      if (seen.has(key)) continue;
      seen.add(key);
      total.set(key, (total.get(key) ?? 0) + dt);
    }
  });
}
const pct = (v: number): string => `${((100 * v) / all).toFixed(1).padStart(5)}%`;
console.log(`total sampled: ${(all / 1000).toFixed(0)} ms`);
console.log('\nself time:');
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
  console.log(`${pct(v)}  ${k}`);
if (values.match) {
  const m = values.match;
  console.log(`\ninclusive time, frames matching '${m}':`);
  for (const [k, v] of [...total]
    .filter(([k]) => k.includes(m))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    console.log(`${pct(v)}  ${k}`);
  }
}
if (values['by-origin']) {
  const busy = all - idle;
  console.log(`\nself time by origin, share of the busy time (${(busy / 1000).toFixed(0)} ms):`);
  for (const [k, v] of [...byOrigin].sort((a, b) => b[1] - a[1]))
    console.log(
      `${((100 * v) / busy).toFixed(1).padStart(5)}%  ${(v / 1000).toFixed(0).padStart(6)} ms  ${k}`,
    );
}
