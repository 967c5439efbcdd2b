/**
 * From runs to figures: each scenario's medians with min–max, Herald's ratios
 * to the raw loop and to the peers computed run by run (run r of one scenario
 * against run r of the other: the same pass over a drifting machine), and the
 * issue's targets checked against those.
 */
import type { ScenarioDef } from './catalogue.ts';
import { spread, type Spread } from './stats.ts';
import { costFigures, type Kind, type Library, type RunResult } from './types.ts';

export type RunOutcome = RunResult | { readonly error: string };

export interface ScenarioRecord {
  readonly id: string;
  readonly title: string;
  readonly library: Library;
  readonly kind: Kind;
  /** One entry per run, in run order. */
  readonly runs: RunOutcome[];
  /** Median [min–max] over the successful runs, by metric. */
  readonly summary: Record<string, Spread>;
}

export interface Comparison {
  readonly id: string;
  readonly title: string;
  /** How to read the value, e.g. "× raw (higher is better)". */
  readonly unit: string;
  readonly value: Spread;
  /** Per-run values. */
  readonly runs: number[];
}

/** Which raw loop is the floor in this run: the faster of the two careful ones. */
export interface FloorChoice {
  /** The name comparisons use: 'raw-publish' or 'raw-e2e'. */
  readonly alias: string;
  /** The scenario chosen for it. */
  readonly id: string;
  /** Every candidate with its median rate, the chosen one first. */
  readonly candidates: readonly { readonly id: string; readonly rate: number }[];
}

/** The floor's candidates, by alias: the default-settings loop is never one (it is shown for scale). */
export const FLOOR_CANDIDATES: Readonly<Record<string, readonly string[]>> = {
  'raw-publish': ['raw-publish-pipeline', 'raw-publish-timeout0'],
  'raw-e2e': ['raw-e2e-pipeline', 'raw-e2e-timeout0'],
};

/** Picks, for each alias, the candidate with the higher median throughput in this run. */
export function chooseFloors(records: readonly ScenarioRecord[]): FloorChoice[] {
  const out: FloorChoice[] = [];
  for (const [alias, ids] of Object.entries(FLOOR_CANDIDATES)) {
    const candidates = ids
      .map((id) => ({ id, rate: records.find((r) => r.id === id)?.summary.rate?.median }))
      .filter((c): c is { id: string; rate: number } => c.rate !== undefined)
      .sort((a, b) => b.rate - a.rate);
    const best = candidates[0];
    if (best) out.push({ alias, id: best.id, candidates });
  }
  return out;
}

export interface TargetCheck {
  readonly title: string;
  readonly limit: string;
  readonly measured: number;
  readonly unit: string;
  readonly pass: boolean;
}

export function isResult(r: RunOutcome | undefined): r is RunResult {
  return r !== undefined && !('error' in r);
}

/** The metrics of one run, flat: rate, CPU, Redis, commands, latency and memory figures. */
export function metricsOf(r: RunResult): Record<string, number> {
  const out: Record<string, number> = { rate: r.rate, seconds: r.seconds, ...costFigures(r) };
  // Separate-process scenarios: each side's Node CPU per event.
  for (const k of ['producerCpuUsPerEvent', 'consumerCpuUsPerEvent']) {
    const v = r.detail?.[k];
    if (typeof v === 'number') out[k] = v;
  }
  if (r.latency) {
    const { p50, p90, p99, max, achievedRate, p99FromSchedule } = r.latency;
    Object.assign(out, { p50, p90, p99, max, achievedRate, p99FromSchedule });
  }
  if (r.memory) {
    Object.assign(out, r.memory, {
      memoryRatio: r.memory.heraldBytesPerEvent / r.memory.rawBytesPerEvent,
      memoryRatio1k: r.memory.heraldBytesPerEvent1k / r.memory.rawBytesPerEvent1k,
    });
  }
  return out;
}

export function summarize(def: ScenarioDef, runs: RunOutcome[]): ScenarioRecord {
  const byMetric = new Map<string, number[]>();
  for (const r of runs) {
    if (!isResult(r)) continue;
    for (const [k, v] of Object.entries(metricsOf(r))) {
      if (!Number.isFinite(v)) continue;
      const list = byMetric.get(k) ?? [];
      list.push(v);
      byMetric.set(k, list);
    }
  }
  const summary: Record<string, Spread> = {};
  for (const [k, values] of byMetric) summary[k] = spread(values) as Spread;
  return { id: def.id, title: def.title, library: def.library, kind: def.kind, runs, summary };
}

interface ComparisonDef {
  readonly id: string;
  readonly title: string;
  readonly unit: string;
  readonly a: string;
  readonly b: string;
  /** Ratio of a's metric to b's (or b's to a's when inverted: "how many times cheaper"). */
  readonly metric: string;
  readonly invert?: boolean;
  /** a's metric minus b's instead of a ratio (latency against the floor, in ms). */
  readonly diff?: boolean;
}

const X_HIGHER = '× (higher is better for Herald)';
const X_LOWER = '× (lower is better for Herald)';
const MS_OVER = 'ms Herald − raw (lower is better for Herald)';

const COMPARISONS: readonly ComparisonDef[] = [
  {
    id: 'publish-vs-raw',
    title: 'Herald publish() / raw pipelined XADD, events/s',
    unit: X_HIGHER,
    a: 'herald-publish',
    b: 'raw-publish',
    metric: 'rate',
  },
  {
    id: 'batch-vs-raw',
    title: 'Herald publishBatch / raw pipelined XADD, events/s',
    unit: X_HIGHER,
    a: 'herald-publish-batch',
    b: 'raw-publish',
    metric: 'rate',
  },
  {
    id: 'e2e-vs-raw',
    title: 'Herald end to end / raw loop, events/s',
    unit: X_HIGHER,
    a: 'herald-e2e',
    b: 'raw-e2e',
    metric: 'rate',
  },
  {
    id: 'cpu-vs-raw',
    title: 'Herald end to end / raw loop, Node CPU per event',
    unit: X_LOWER,
    a: 'herald-e2e',
    b: 'raw-e2e',
    metric: 'nodeCpuUsPerEvent',
  },
  {
    id: 'default-e2e-vs-raw',
    title: 'For scale: raw loop with node-redis defaults / the floor, end to end events/s',
    unit: X_HIGHER,
    a: 'raw-e2e-default',
    b: 'raw-e2e',
    metric: 'rate',
  },
  {
    id: 'default-cpu-vs-raw',
    title: 'For scale: raw loop with node-redis defaults / the floor, Node CPU per event',
    unit: X_LOWER,
    a: 'raw-e2e-default',
    b: 'raw-e2e',
    metric: 'nodeCpuUsPerEvent',
  },
  {
    id: 'envelope-cpu-vs-raw',
    title:
      "Diagnostic: raw loop writing a Herald envelope's fields / the floor, Node CPU per event (the format's share)",
    unit: X_LOWER,
    a: 'raw-e2e-envelope',
    b: 'raw-e2e',
    metric: 'nodeCpuUsPerEvent',
  },
  {
    id: 'cpu-vs-envelope',
    title:
      "Diagnostic: Herald / raw loop writing the same envelope fields, Node CPU per event (Herald's code's share)",
    unit: X_LOWER,
    a: 'herald-e2e',
    b: 'raw-e2e-envelope',
    metric: 'nodeCpuUsPerEvent',
  },
  {
    id: 'fields-cpu-vs-raw',
    title:
      "The 'fields' envelope layout: Herald end to end with it / the floor, Node CPU per event",
    unit: X_LOWER,
    a: 'herald-e2e-fields',
    b: 'raw-e2e',
    metric: 'nodeCpuUsPerEvent',
  },
  {
    id: 'fields-envelope-cpu-vs-raw',
    title:
      "Diagnostic: raw loop writing the 'fields' layout's fields / the floor, Node CPU per event (that layout's share)",
    unit: X_LOWER,
    a: 'raw-e2e-envelope-fields',
    b: 'raw-e2e',
    metric: 'nodeCpuUsPerEvent',
  },
  {
    id: 'e2e4-vs-raw',
    title: 'Herald 4 consumers / raw loop, events/s',
    unit: X_HIGHER,
    a: 'herald-e2e-4',
    b: 'raw-e2e',
    metric: 'rate',
  },
  ...[1, 2].flatMap((n): ComparisonDef[] => [
    {
      id: `split${n}-producer-vs-raw`,
      title: `Separate processes (1 producer, ${n} consumer${n > 1 ? 's' : ''}): Herald / raw producer, Node CPU per event`,
      unit: X_LOWER,
      a: `herald-split-${n}`,
      b: `raw-split-${n}`,
      metric: 'producerCpuUsPerEvent',
    },
    {
      id: `split${n}-consumer-vs-raw`,
      title: `Separate processes (1 producer, ${n} consumer${n > 1 ? 's' : ''}): Herald / raw consumers, Node CPU per event`,
      unit: X_LOWER,
      a: `herald-split-${n}`,
      b: `raw-split-${n}`,
      metric: 'consumerCpuUsPerEvent',
    },
  ]),
  {
    id: 'split1-consumer-vs-envelope',
    title:
      "Diagnostic, separate processes: Herald consumer / raw consumer of the same Herald envelopes, Node CPU per event (Herald's consumer code's share)",
    unit: X_LOWER,
    a: 'herald-split-1',
    b: 'envelope-split-1',
    metric: 'consumerCpuUsPerEvent',
  },
  {
    id: 'e2e-vs-bullmq',
    title: 'Herald end to end / BullMQ end to end, events/s',
    unit: X_HIGHER,
    a: 'herald-e2e',
    b: 'bullmq-e2e',
    metric: 'rate',
  },
  {
    id: 'cpu-vs-bullmq',
    title: 'BullMQ / Herald, Node CPU per event (times cheaper)',
    unit: X_HIGHER,
    a: 'herald-e2e',
    b: 'bullmq-e2e',
    metric: 'nodeCpuUsPerEvent',
    invert: true,
  },
  {
    id: 'raw-cpu-vs-bullmq',
    title:
      'For scale: BullMQ / raw loop, Node CPU per event (the most any library on this client can be cheaper)',
    unit: X_HIGHER,
    a: 'raw-e2e',
    b: 'bullmq-e2e',
    metric: 'nodeCpuUsPerEvent',
    invert: true,
  },
  {
    id: 'e2e-vs-smq',
    title: 'Herald end to end / redis-smq end to end, events/s',
    unit: X_HIGHER,
    a: 'herald-e2e',
    b: 'smq-e2e',
    metric: 'rate',
  },
  {
    id: 'cpu-vs-smq',
    title: 'redis-smq / Herald, Node CPU per event (times cheaper)',
    unit: X_HIGHER,
    a: 'herald-e2e',
    b: 'smq-e2e',
    metric: 'nodeCpuUsPerEvent',
    invert: true,
  },
  {
    id: 'raw-cpu-vs-smq',
    title: 'For scale: redis-smq / raw loop, Node CPU per event',
    unit: X_HIGHER,
    a: 'raw-e2e',
    b: 'smq-e2e',
    metric: 'nodeCpuUsPerEvent',
    invert: true,
  },
  {
    id: 'batch-vs-bullmq',
    title: 'Herald publishBatch / BullMQ addBulk, events/s',
    unit: X_HIGHER,
    a: 'herald-publish-batch',
    b: 'bullmq-add',
    metric: 'rate',
  },
  {
    id: 'batch-vs-smq',
    title: 'Herald publishBatch / redis-smq produce, events/s',
    unit: X_HIGHER,
    a: 'herald-publish-batch',
    b: 'smq-produce',
    metric: 'rate',
  },
  {
    id: 'max-vs-raw',
    title: 'Herald / raw loop, highest sustained rate',
    unit: X_HIGHER,
    a: 'herald-latency-max',
    b: 'raw-latency-max',
    metric: 'rate',
  },
  {
    id: 'p50-vs-raw',
    title: 'Herald / raw loop, p50 latency @ 10k ev/s',
    unit: X_LOWER,
    a: 'herald-latency-10k',
    b: 'raw-latency-10k',
    metric: 'p50',
  },
  {
    id: 'p99-vs-raw',
    title: 'Herald / raw loop, p99 latency @ 10k ev/s',
    unit: X_LOWER,
    a: 'herald-latency-10k',
    b: 'raw-latency-10k',
    metric: 'p99',
  },
  {
    id: 'p50-over-raw',
    title: 'Herald − raw loop, p50 latency @ 10k ev/s',
    unit: MS_OVER,
    a: 'herald-latency-10k',
    b: 'raw-latency-10k',
    metric: 'p50',
    diff: true,
  },
  {
    id: 'p99-over-raw',
    title: 'Herald − raw loop, p99 latency @ 10k ev/s',
    unit: MS_OVER,
    a: 'herald-latency-10k',
    b: 'raw-latency-10k',
    metric: 'p99',
    diff: true,
  },
  {
    id: 'p50-over-raw-multi',
    title:
      "Diagnostic: Herald − raw loop sending a tick's XADDs in one MULTI/EXEC (as Herald does), p50 latency @ 10k ev/s",
    unit: MS_OVER,
    a: 'herald-latency-10k',
    b: 'raw-latency-10k-multi',
    metric: 'p50',
    diff: true,
  },
  {
    id: 'p99-over-raw-multi',
    title:
      "Diagnostic: Herald − raw loop sending a tick's XADDs in one MULTI/EXEC (as Herald does), p99 latency @ 10k ev/s",
    unit: MS_OVER,
    a: 'herald-latency-10k',
    b: 'raw-latency-10k-multi',
    metric: 'p99',
    diff: true,
  },
  {
    id: 'notify-vs-raw',
    title: 'Herald notifier / raw pub/sub, p50 latency @ 10k msg/s',
    unit: X_LOWER,
    a: 'herald-notify-latency',
    b: 'raw-pubsub-latency',
    metric: 'p50',
  },
  {
    id: 'notify-cpu-vs-raw',
    title: 'Herald notifier / raw pub/sub, Node CPU per message',
    unit: X_LOWER,
    a: 'herald-notify-latency',
    b: 'raw-pubsub-latency',
    metric: 'nodeCpuUsPerEvent',
  },
];

export function compare(
  records: readonly ScenarioRecord[],
  floors: readonly FloorChoice[] = chooseFloors(records),
): Comparison[] {
  const byId = new Map(records.map((r) => [r.id, r]));
  for (const f of floors) {
    const chosen = byId.get(f.id);
    if (chosen) byId.set(f.alias, chosen);
  }
  const out: Comparison[] = [];
  for (const c of COMPARISONS) {
    const a = byId.get(c.a);
    const b = byId.get(c.b);
    if (!a || !b) continue;
    const runs: number[] = [];
    for (let i = 0; i < Math.min(a.runs.length, b.runs.length); i++) {
      const ra = a.runs[i];
      const rb = b.runs[i];
      if (!isResult(ra) || !isResult(rb)) continue;
      const va = metricsOf(ra)[c.metric];
      const vb = metricsOf(rb)[c.metric];
      if (va === undefined || vb === undefined || !(va > 0) || !(vb > 0)) continue;
      runs.push(c.diff ? va - vb : c.invert ? vb / va : va / vb);
    }
    const value = spread(runs);
    if (value) out.push({ id: c.id, title: c.title, unit: c.unit, value, runs });
  }
  const memory = byId.get('memory');
  for (const [suffix, label] of [
    ['', '100 B'],
    ['1k', '1 KB'],
  ] as const) {
    const s = memory?.summary[`memoryRatio${suffix}`];
    if (s && memory) {
      const runs = memory.runs
        .filter(isResult)
        .map((r) => metricsOf(r)[`memoryRatio${suffix}`] as number);
      out.push({
        id: `memory${suffix}-vs-raw`,
        title: `Herald / raw XADD, memory per stored event (${label} payload)`,
        unit: X_LOWER,
        value: s,
        runs,
      });
    }
  }
  return out;
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/** The targets of issue #11 ("the hot path against an honest floor"), where the run measured what they need. */
export function checkTargets(
  _records: readonly ScenarioRecord[],
  comparisons: readonly Comparison[],
): TargetCheck[] {
  const cmp = new Map(comparisons.map((c) => [c.id, c.value.median]));
  const out: TargetCheck[] = [];
  const check = (
    id: string,
    title: string,
    op: '>=' | '<=',
    limit: number,
    unit: '×' | 'ms' = '×',
  ): void => {
    const v = cmp.get(id);
    if (v === undefined) return;
    out.push({
      title,
      limit: `${op === '>=' ? '≥' : '≤'} ${limit}${unit === 'ms' ? ' ms' : '×'}`,
      measured: v,
      unit,
      // Judged at the precision the report shows (two decimals): 1.004× is "1.00×".
      pass: op === '>=' ? round2(v) >= limit : round2(v) <= limit,
    });
  };
  check('cpu-vs-raw', 'end to end, Node CPU per event vs the floor', '<=', 1.4);
  check('e2e-vs-raw', 'end to end, throughput vs the floor', '>=', 0.7);
  check('batch-vs-raw', "publishBatch vs the floor's pipelined XADD", '>=', 0.8);
  check(
    'publish-vs-raw',
    "publish() per event, coalesced, vs the floor's pipelined XADD",
    '>=',
    0.6,
  );
  check('p50-over-raw', 'latency @ 10k ev/s, p50 over the floor', '<=', 0.2, 'ms');
  check('p99-over-raw', 'latency @ 10k ev/s, p99 over the floor', '<=', 1, 'ms');
  check('memory-vs-raw', 'memory per stored event vs raw XADD, 100 B', '<=', 1.2);
  check('memory1k-vs-raw', 'memory per stored event vs raw XADD, 1 KB', '<=', 1.0);
  return out;
}
