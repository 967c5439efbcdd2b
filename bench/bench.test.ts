/**
 * Smoke test of the benchmark: `--quick` against the suite's Redis runs every
 * scenario once and writes a complete report. It checks shape, never speed:
 * every scenario has positive figures, every comparison and target is there,
 * and nothing is left behind in Redis.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import { testRedisUrl } from '../src/test-support/redis.ts';
import { isResult } from './aggregate.ts';
import { keysMatching } from './cleanup.ts';
import { SCENARIOS } from './catalogue.ts';
import type { BenchResults } from './runner.ts';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('npm run bench -- --quick', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'herald-bench-'));
  let results: BenchResults;
  let stdout: string;

  before(async () => {
    const run = await promisify(execFile)(
      process.execPath,
      [
        '--import',
        'tsx',
        path.join(here, 'main.ts'),
        '--quick',
        '--url',
        testRedisUrl(),
        '--out',
        out,
      ],
      { cwd: path.join(here, '..'), timeout: 110_000, maxBuffer: 16 * 1024 * 1024 },
    );
    stdout = run.stdout;
    results = JSON.parse(readFileSync(path.join(out, 'latest.json'), 'utf8')) as BenchResults;
  });

  after(() => rmSync(out, { recursive: true, force: true }));

  test('every scenario ran once and has positive figures', () => {
    assert.deepEqual(
      results.scenarios.map((s) => s.id),
      SCENARIOS.map((s) => s.id),
    );
    for (const s of results.scenarios) {
      assert.equal(s.runs.length, 1, s.id);
      const run = s.runs[0];
      assert.ok(isResult(run), `${s.id} failed: ${JSON.stringify(run)}`);
      const m = s.summary;
      for (const metric of ['rate', 'nodeCpuUsPerEvent', 'commandsPerEvent', 'seconds']) {
        assert.ok((m[metric]?.median ?? 0) > 0, `${s.id}: ${metric} = ${m[metric]?.median}`);
      }
      assert.ok((m.redisCpuPct?.median ?? -1) >= 0, `${s.id}: redis CPU`);
      if (s.kind === 'latency') {
        const { p50, p99, max } = run.latency ?? { p50: 0, p99: 0, max: 0 };
        assert.ok(p50 > 0 && p99 >= p50 && max >= p99, `${s.id}: p50 ${p50} p99 ${p99} max ${max}`);
      }
      if (s.kind === 'memory') {
        for (const v of Object.values(run.memory ?? {}))
          assert.ok(v > 0, `${s.id}: ${JSON.stringify(run.memory)}`);
      }
    }
  });

  test('Herald is compared with the raw loop and both peers, and the targets are checked', () => {
    const ids = results.comparisons.map((c) => c.id);
    for (const id of [
      'e2e-vs-raw',
      'cpu-vs-raw',
      'batch-vs-raw',
      'e2e-vs-bullmq',
      'cpu-vs-smq',
      'memory-vs-raw',
    ]) {
      assert.ok(ids.includes(id), `comparison ${id} missing from ${ids.join(', ')}`);
    }
    for (const c of results.comparisons) {
      // Ratios are positive; latency differences to the floor (ms) may fall either way.
      const ok = c.unit.startsWith('ms') ? Number.isFinite(c.value.median) : c.value.median > 0;
      assert.ok(ok, `${c.id}: ${c.value.median}`);
    }
    assert.equal(results.targets.length, 8);
    assert.ok(results.redis.version.length > 0 && results.machine.cpus > 0);
  });

  test('prints the Markdown report and writes it with the chart', () => {
    assert.match(stdout, /### Throughput[\s\S]*### Latency[\s\S]*### Targets/);
    assert.equal(readFileSync(path.join(out, 'latest.md'), 'utf8'), stdout);
    assert.match(readFileSync(path.join(out, 'latest.svg'), 'utf8'), /^<svg [\s\S]*<\/svg>\n$/);
  });

  test('leaves no key behind', async () => {
    const c = createClient({ url: testRedisUrl() });
    await c.connect();
    try {
      // redis-smq's messages live under its global namespace: no redis-smq key may remain at all.
      for (const pattern of ['bench:*', 'redis-smq-*']) {
        const found = await keysMatching(c, pattern);
        assert.deepEqual(found, [], pattern);
      }
    } finally {
      await c.close();
    }
  });
});
