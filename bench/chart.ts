/**
 * The SVG chart of a results file, written by hand (no dependencies):
 * horizontal bars with min–max whiskers, one panel per question. To redraw
 * the chart of a results file: bench/render.ts.
 */
import type { ScenarioRecord } from './aggregate.ts';
import { auto, num } from './format.ts';
import type { BenchResults } from './runner.ts';
import type { Spread } from './stats.ts';
import type { Library } from './types.ts';

const WIDTH = 900;
const LABEL_W = 300;
const VALUE_W = 175;
const BAR_H = 18;
const GAP = 6;
const COLORS: Record<Library, string> = {
  raw: '#8a8f98',
  herald: '#2563eb',
  bullmq: '#d97706',
  'redis-smq': '#dc2626',
};

interface Row {
  readonly label: string;
  readonly library: Library;
  readonly value: Spread;
  /** A second, darker bar inside the first (p50 inside p99). */
  readonly inner?: Spread;
  readonly text: string;
}

function esc(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** Log axes start here: 0.1 ms is below anything a network round trip achieves. */
const LOG_FLOOR = 0.1;

function panel(
  title: string,
  note: string,
  rows: readonly Row[],
  y0: number,
  log = false,
): { svg: string; height: number } {
  if (rows.length === 0) return { svg: '', height: 0 };
  const plotW = WIDTH - LABEL_W - VALUE_W - 20;
  const maxV = Math.max(...rows.map((r) => r.value.max), 1e-9);
  const x = (v: number): number =>
    LABEL_W +
    (log
      ? (plotW * Math.log10(Math.max(v, LOG_FLOOR) / LOG_FLOOR)) /
        Math.log10(Math.max(maxV, 1) / LOG_FLOOR)
      : (plotW * v) / maxV);
  const parts: string[] = [
    `<text x="10" y="${y0 + 16}" class="title">${esc(title)}</text>`,
    `<text x="10" y="${y0 + 32}" class="note">${esc(note)}</text>`,
  ];
  let y = y0 + 44;
  for (const r of rows) {
    const color = COLORS[r.library];
    parts.push(
      `<text x="${LABEL_W - 8}" y="${y + BAR_H - 5}" class="label" text-anchor="end">${esc(r.label)}</text>`,
    );
    parts.push(
      `<rect x="${LABEL_W}" y="${y}" width="${Math.max(1, x(r.value.median) - LABEL_W).toFixed(1)}" height="${BAR_H}" fill="${color}" fill-opacity="0.55"/>`,
    );
    if (r.inner) {
      parts.push(
        `<rect x="${LABEL_W}" y="${y + 4}" width="${Math.max(1, x(r.inner.median) - LABEL_W).toFixed(1)}" height="${BAR_H - 8}" fill="${color}"/>`,
      );
    }
    if (r.value.max > r.value.min) {
      const cy = y + BAR_H / 2;
      parts.push(
        `<path d="M${x(r.value.min).toFixed(1)} ${cy}H${x(r.value.max).toFixed(1)}M${x(r.value.min).toFixed(1)} ${cy - 5}v10M${x(r.value.max).toFixed(1)} ${cy - 5}v10" class="whisker"/>`,
      );
    }
    parts.push(
      `<text x="${WIDTH - VALUE_W}" y="${y + BAR_H - 5}" class="value">${esc(r.text)}</text>`,
    );
    y += BAR_H + GAP;
  }
  return { svg: parts.join('\n'), height: y - y0 + 14 };
}

function rowsOf(
  records: readonly ScenarioRecord[],
  ids: readonly string[],
  metric: string,
  label: (s: ScenarioRecord) => string,
  text: (v: Spread) => string,
): Row[] {
  const out: Row[] = [];
  for (const id of ids) {
    const s = records.find((r) => r.id === id);
    const value = s?.summary[metric];
    if (s && value) out.push({ label: label(s), library: s.library, value, text: text(value) });
  }
  return out;
}

const short = (s: ScenarioRecord): string => s.title.replace(/\s*\(.*\)$/, '');

export function renderChart(results: BenchResults): string {
  const floorOf = (alias: string): string =>
    results.floors.find((f) => f.alias === alias)?.id ?? `${alias}-timeout0`;
  const recs = results.scenarios;
  const e2e = [
    floorOf('raw-e2e'),
    'raw-e2e-default',
    'herald-e2e',
    'herald-e2e-4',
    'herald-e2e-1kb',
    'herald-e2e-schema',
    'herald-e2e-fanout3',
    'bullmq-e2e',
    'bullmq-process',
    'smq-e2e',
    'smq-consume',
  ];
  const publish = [
    floorOf('raw-publish'),
    'raw-publish-default',
    'herald-publish',
    'herald-publish-batch',
    'bullmq-add',
    'smq-produce',
  ];
  const lat = [
    'raw-latency-1k',
    'herald-latency-1k',
    'raw-latency-10k',
    'herald-latency-10k',
    'herald-latency-1kb',
    'herald-latency-schema',
    'herald-latency-fanout3',
    'raw-pubsub-latency',
    'herald-notify-latency',
  ];
  const evs = (v: Spread): string => `${num(v.median)} ev/s`;
  const panels: { title: string; note: string; rows: Row[]; log?: boolean }[] = [
    {
      title: 'End-to-end throughput (publish → handler → ack)',
      note: 'events/s, median of the runs; whiskers: min–max; higher is better',
      rows: rowsOf(recs, e2e, 'rate', short, evs),
    },
    {
      title: 'Node CPU per event, end to end',
      note: 'µs of Node CPU (user + system) per event; lower is better',
      rows: rowsOf(recs, e2e, 'nodeCpuUsPerEvent', short, (v) => `${auto(v.median)} µs`),
    },
    {
      title: 'Publish throughput',
      note: 'events/s stored in Redis; higher is better',
      rows: rowsOf(recs, publish, 'rate', short, evs),
    },
  ];
  const latencyRows: Row[] = [];
  for (const id of lat) {
    const s = recs.find((r) => r.id === id);
    const p99 = s?.summary.p99;
    const p50 = s?.summary.p50;
    if (s && p99 && p50) {
      latencyRows.push({
        label: short(s).replace(' latency', ''),
        library: s.library,
        value: p99,
        inner: p50,
        text: `p50 ${auto(p50.median)} · p99 ${auto(p99.median)} ms`,
      });
    }
  }
  panels.push({
    title: 'Highest sustained open-loop rate',
    note: 'events/s offered and kept up with (median latency under 10 ms, backlog drained); higher is better',
    rows: rowsOf(recs, ['raw-latency-max', 'herald-latency-max'], 'rate', short, evs),
  });
  panels.push({
    log: true,
    title: 'Latency, publish → handler, open loop',
    note: 'ms, log scale from 0.1 ms; dark bar p50, light bar p99 (whiskers: p99 min–max); lower is better',
    rows: latencyRows,
  });

  const body: string[] = [];
  let y = 56;
  for (const p of panels) {
    const { svg, height } = panel(p.title, p.note, p.rows, y, p.log);
    body.push(svg);
    y += height;
  }
  const m = results.machine;
  const legend = (Object.entries(COLORS) as [Library, string][])
    .map(
      ([lib, color], i) =>
        `<rect x="${10 + i * 120}" y="${y + 4}" width="12" height="12" fill="${color}"/><text x="${28 + i * 120}" y="${y + 14}" class="note">${lib}</text>`,
    )
    .join('');
  const height = y + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, -apple-system, Segoe UI, sans-serif">
<style>
.title { font-size: 15px; font-weight: 600; fill: #111827; }
.note { font-size: 11px; fill: #6b7280; }
.label { font-size: 12px; fill: #1f2937; }
.value { font-size: 12px; fill: #1f2937; font-variant-numeric: tabular-nums; }
.whisker { stroke: #111827; stroke-width: 1.2; fill: none; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="10" y="24" class="title" style="font-size:18px">Herald vs raw node-redis, BullMQ and redis-smq</text>
<text x="10" y="42" class="note">${esc(`${m.cpus} × ${m.cpuModel}, Node ${m.node}, Redis ${results.redis.version} (AOF ${results.redis.aof}, ${results.redis.appendfsync}); ${results.options.runs} runs, ${results.startedAt.slice(0, 10)}`)}</text>
${body.join('\n')}
${legend}
</svg>
`;
}
