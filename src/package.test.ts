// The published package is compiled JavaScript: build it into a temporary folder and use it from
// plain Node (no TypeScript loader), as a user's service would after `npm install`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testRedisUrl, uniquePrefix } from './testing/redis.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

void test('the built package publishes and consumes from plain Node', () => {
  // Inside the project, so the build resolves the project's dependencies as an installed package would.
  mkdirSync(path.join(root, '.herald'), { recursive: true });
  const out = mkdtempSync(path.join(root, '.herald', 'build-'));
  try {
    execFileSync(process.execPath, [path.join(root, 'scripts/build.mjs'), '--out', out], {
      cwd: root,
      stdio: 'pipe',
    });
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      exports: Record<string, { default: string; types: string }>;
    };
    for (const entry of Object.values(pkg.exports)) {
      const js = path.join(out, path.relative('dist', entry.default));
      const dts = path.join(out, path.relative('dist', entry.types));
      assert.ok(readFileSync(js, 'utf8').length > 0, js);
      assert.ok(readFileSync(dts, 'utf8').length > 0, dts);
    }
    const script = path.join(out, 'roundtrip.mjs');
    writeFileSync(
      script,
      `import { RedisBackend, defineTopic } from './index.js';
const herald = await RedisBackend.connect({ url: process.argv[2], prefix: process.argv[3] });
const topic = defineTopic({ name: 'built' });
let got = 0;
const sub = herald.subscribe(topic, { group: 'g', startFrom: 'beginning' }, () => { got++; });
await sub.ready;
await herald.publishBatch(topic, Array.from({ length: 10 }, (_, i) => ({ data: { i }, id: 'e' + i })));
const dup = await herald.publish(topic, { data: {}, id: 'e0' });
const t0 = Date.now();
while (got < 10 && Date.now() - t0 < 10000) await new Promise((r) => setTimeout(r, 10));
await herald.close();
console.log(JSON.stringify({ got, duplicate: dup.duplicate }));
`,
    );
    const stdout = execFileSync(process.execPath, [script, testRedisUrl(), uniquePrefix('pkg')], {
      encoding: 'utf8',
    });
    assert.deepEqual(JSON.parse(stdout.trim()), { got: 10, duplicate: true });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
