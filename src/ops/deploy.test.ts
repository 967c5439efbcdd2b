import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXPORTER_METRICS } from './exporter.ts';
import { LIBRARY_METRICS } from './metrics.ts';

const file = (path: string): string =>
  fileURLToPath(new URL(`../../deploy/${path}`, import.meta.url));

/** Every series name Herald emits: exporter gauges, library counters, the histogram's series. */
const known = new Set<string>([
  ...Object.values(EXPORTER_METRICS),
  ...Object.values(LIBRARY_METRICS),
  ...['_bucket', '_sum', '_count'].map((s) => LIBRARY_METRICS.handlerDuration + s),
]);

function metricNames(expr: string): string[] {
  return expr.match(/\bherald_[a-z0-9_]+/g) ?? [];
}

function promtool(...args: string[]): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { encoding: 'utf8' });
  assert.equal(r.error, undefined, 'promtool is missing: apt-get install prometheus');
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

void describe('Prometheus alert rules', () => {
  void test('promtool check rules accepts deploy/prometheus/alerts.yml', () => {
    const r = promtool('check', 'rules', file('prometheus/alerts.yml'));
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS: 10 rules found/);
  });

  void test('promtool test rules passes deploy/prometheus/alerts.test.yml', () => {
    const r = promtool('test', 'rules', file('prometheus/alerts.test.yml'));
    assert.equal(r.status, 0, r.output);
    assert.match(r.output, /SUCCESS/);
  });

  void test('the rules cover lag, stalled consumers, oldest pending, dead letters and memory, with metrics Herald emits', () => {
    const text = readFileSync(file('prometheus/alerts.yml'), 'utf8');
    for (const alert of [
      'HeraldConsumerLagGrowing',
      'HeraldConsumerStalled',
      'HeraldOldestPendingTooOld',
      'HeraldDeadLettersRising',
      'HeraldRedisMemoryAboveThreshold',
      'HeraldOrderedPartitionUnowned',
      'HeraldOrderedGroupRebalancing',
    ]) {
      assert.match(text, new RegExp(`- alert: ${alert}\\n`));
    }
    const exprs = [...text.matchAll(/expr: \|?\n?([\s\S]*?)\n\s+(?:for|labels):/g)].map(
      (m) => m[1] ?? '',
    );
    assert.equal(exprs.length, 10);
    for (const name of exprs.flatMap(metricNames))
      assert.ok(known.has(name), `alerts.yml uses unknown metric ${name}`);
  });
});

interface Panel {
  type: string;
  title: string;
  targets?: { expr?: string }[];
  panels?: Panel[];
}

void describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(file('grafana/herald-dashboard.json'), 'utf8')) as {
    panels: Panel[];
    templating: { list: { query?: unknown }[] };
  };
  const panels = dashboard.panels
    .flatMap((p) => [p, ...(p.panels ?? [])])
    .filter((p) => p.type !== 'row');

  void test('every panel queries Prometheus for metrics the exporter or the library emits', () => {
    assert.ok(panels.length >= 15, `only ${panels.length} panels`);
    const used = new Set<string>();
    for (const p of panels) {
      const exprs = (p.targets ?? []).map((t) => t.expr ?? '');
      assert.ok(
        exprs.length > 0 && exprs.every((e) => e.length > 0),
        `panel '${p.title}' has no query`,
      );
      for (const e of exprs) {
        const names = metricNames(e);
        assert.ok(names.length > 0, `panel '${p.title}': '${e}' references no Herald metric`);
        for (const n of names) {
          assert.ok(known.has(n), `panel '${p.title}' uses ${n}, which Herald does not emit`);
          used.add(n);
        }
      }
    }
    for (const v of dashboard.templating.list) {
      for (const n of metricNames(JSON.stringify(v.query ?? '')))
        assert.ok(known.has(n), `variable uses ${n}`);
    }
    // The headline figures of the issue are on the dashboard.
    for (const n of [
      'herald_group_lag',
      'herald_group_pending',
      'herald_group_seconds_since_progress',
      'herald_group_entries_read_total',
      'herald_stream_entries_added_total',
      'herald_group_oldest_pending_age_seconds',
      'herald_dead_letters',
      'herald_redis_memory_used_bytes',
      'herald_capacity_ok',
      'herald_events_published_total',
      'herald_handler_duration_seconds_bucket',
    ]) {
      assert.ok(used.has(n), `no panel shows ${n}`);
    }
  });

  void test('stalled groups are shown above the fold', () => {
    const top = (dashboard.panels as (Panel & { gridPos: { y: number } })[]).filter(
      (p) => p.type !== 'row' && p.gridPos.y < 9,
    );
    const exprs = top.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''));
    assert.ok(
      exprs.some((e) => e.includes('herald_group_seconds_since_progress')),
      `the first screen shows: ${top.map((p) => p.title).join(', ')}`,
    );
  });

  void test('panel ids are unique and panels do not overlap', () => {
    const all = dashboard.panels as (Panel & {
      id: number;
      gridPos: { x: number; y: number; w: number; h: number };
    })[];
    assert.equal(new Set(all.map((p) => p.id)).size, all.length);
    for (const [i, a] of all.entries()) {
      for (const b of all.slice(i + 1)) {
        const overlap =
          a.gridPos.x < b.gridPos.x + b.gridPos.w &&
          b.gridPos.x < a.gridPos.x + a.gridPos.w &&
          a.gridPos.y < b.gridPos.y + b.gridPos.h &&
          b.gridPos.y < a.gridPos.y + a.gridPos.h;
        assert.ok(!overlap, `'${a.title}' overlaps '${b.title}'`);
      }
    }
  });
});
