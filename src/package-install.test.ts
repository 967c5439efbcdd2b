// The package as a user gets it: `npm pack`, install the tarball into an empty folder, then use
// the CLI and the library from plain Node. No TypeScript loader may be needed (tsx is a dev
// dependency of the repository, not a dependency of the package).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { testRedisUrl, uniquePrefix } from './testing/redis.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

void test('npm pack → npm install → npx herald and import "herald" from plain Node', () => {
  mkdirSync(path.join(root, '.herald'), { recursive: true });
  const work = mkdtempSync(path.join(root, '.herald', 'pack-'));
  try {
    // Pack into the temporary folder (prepack builds dist/ first).
    execFileSync(npm, ['pack', '--pack-destination', work, '--loglevel=error'], {
      cwd: root,
      stdio: 'pipe',
    });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    assert.ok(tarball, 'npm pack wrote a tarball');

    const app = path.join(work, 'app');
    mkdirSync(app);
    writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({ name: 'app', private: true, type: 'module' }),
    );
    execFileSync(
      npm,
      ['install', '--no-audit', '--no-fund', '--loglevel=error', path.join(work, tarball)],
      { cwd: app, stdio: 'pipe' },
    );
    const installed = path.join(app, 'node_modules', 'herald');
    assert.ok(existsSync(path.join(installed, 'dist', 'cli', 'main.js')), 'compiled CLI shipped');
    assert.equal(existsSync(path.join(installed, 'src')), false, 'sources are not shipped');
    assert.equal(existsSync(path.join(app, 'node_modules', 'tsx')), false, 'tsx not installed');

    // Only the app's own PATH entry: the repository's node_modules/.bin must not help.
    const env = { ...process.env, PATH: `${path.join(app, 'node_modules', '.bin')}:/usr/bin:/bin` };
    const run = (args: string[]): string =>
      execFileSync(process.execPath, [path.join(installed, 'bin', 'herald.mjs'), ...args], {
        cwd: app,
        env,
        encoding: 'utf8',
      });
    assert.match(run(['--version']).trim(), /^\d+\.\d+\.\d+/);
    assert.match(run(['--help']), /Usage: herald/);

    const url = testRedisUrl();
    const prefix = uniquePrefix('install');
    const receipt = run([
      'publish',
      'installed',
      '{"n":1}',
      '--id',
      'first',
      '--create',
      '--json',
      '--url',
      url,
      '--prefix',
      prefix,
    ]);
    assert.match(receipt, /"id":"first"/);

    const script = path.join(app, 'roundtrip.mjs');
    writeFileSync(
      script,
      `import { RedisBackend, defineTopic } from 'herald';
const herald = await RedisBackend.connect({ url: process.argv[2], prefix: process.argv[3] });
const topic = defineTopic({ name: 'installed' });
const seen = [];
const sub = herald.subscribe(topic, { group: 'g', startFrom: 'beginning' }, (e) => { seen.push(e.id); });
await sub.ready;
await herald.publish(topic, { data: { n: 2 }, id: 'second' });
const t0 = Date.now();
while (seen.length < 2 && Date.now() - t0 < 20000) await new Promise((r) => setTimeout(r, 10));
await herald.close();
console.log(JSON.stringify(seen.sort()));
`,
    );
    const stdout = execFileSync(process.execPath, [script, url, prefix], {
      cwd: app,
      env,
      encoding: 'utf8',
    });
    assert.deepEqual(JSON.parse(stdout.trim()), ['first', 'second']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
