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
}

const X_HIGHER = '× (higher is better for Herald)';
const X_LOWER = '× (lower is better for Herald)';

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
    id: 'e2e4-vs-raw',
    title: 'Herald 4 consumers / raw loop, events/s',
    unit: X_HIGHER,
    a: 'herald-e2e-4',
    b: 'raw-e2e',
    metric: 'rate',
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

export function compare(records: readonly ScenarioRecord[]): Comparison[] {
  const byId = new Map(records.map((r) => [r.id, r]));
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
      runs.push(c.invert ? vb / va : va / vb);
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

/** The targets, where the run measured what they need. */
export function checkTargets(
  records: readonly ScenarioRecord[],
  comparisons: readonly Comparison[],
): TargetCheck[] {
  const cmp = new Map(comparisons.map((c) => [c.id, c.value.median]));
  const rec = new Map(records.map((r) => [r.id, r.summary]));
  const out: TargetCheck[] = [];
  const ratio = (id: string, title: string, op: '>=' | '<=', limit: number): void => {
    const v = cmp.get(id);
    if (v === undefined) return;
    out.push({
      title,
      limit: `${op} ${limit}×`,
      measured: v,
      unit: '×',
      pass: op === '>=' ? v >= limit : v <= limit,
    });
  };
  ratio('e2e-vs-raw', 'end-to-end throughput vs raw loop', '>=', 0.9);
  ratio('cpu-vs-raw', 'Node CPU per event vs raw loop', '<=', 1.15);
  ratio('cpu-vs-bullmq', 'Node CPU per event, times cheaper than BullMQ', '>=', 8);
  ratio('cpu-vs-smq', 'Node CPU per event, times cheaper than redis-smq', '>=', 6);
  ratio('batch-vs-raw', 'batched publish vs raw pipelined XADD', '>=', 0.9);
  ratio('memory-vs-raw', 'memory per stored event vs raw XADD (100 B)', '<=', 1.5);
  const lat = rec.get('herald-latency-10k');
  if (lat?.p50)
    out.push({
      title: 'latency @ 10k ev/s, p50',
      limit: '<= 1 ms',
      measured: lat.p50.median,
      unit: 'ms',
      pass: lat.p50.median <= 1,
    });
  if (lat?.p99)
    out.push({
      title: 'latency @ 10k ev/s, p99',
      limit: '<= 5 ms',
      measured: lat.p99.median,
      unit: 'ms',
      pass: lat.p99.median <= 5,
    });
  return out;
}
