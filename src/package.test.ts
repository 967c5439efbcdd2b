// The package as a user gets it: `npm pack`, install the tarball into an empty folder, then use
// the CLI and the library from plain Node. No TypeScript loader may be needed (tsx is a dev
// dependency of the repository, not a dependency of the package).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer, testRedisUrl, uniquePrefix } from './test-support/redis.ts';

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

// The README's TypeScript blocks, run as written (after the quick start, which builds dist/):
// each is saved in the repository's folder, where `import 'herald'` resolves to the package
// itself, and runs with tsx against a Redis of its own. A block that calls runAsMain is a
// service: it must say it is ready, then stop on SIGTERM with exit code 0.
void test('the README code blocks run as written', async () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
  assert.ok(blocks.length >= 3, `README has TypeScript blocks (found ${blocks.length})`);
  if (!existsSync(path.join(root, 'dist', 'index.js'))) {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root });
  }
  const redis = await startRedisServer();
  const dir = mkdtempSync(path.join(root, '.herald', 'readme-'));
  try {
    for (const [i, code] of blocks.entries()) {
      const file = path.join(dir, `block-${i + 1}.ts`);
      writeFileSync(file, code);
      const service = code.includes('runAsMain(');
      const result = await runBlock(file, redis.url, service);
      assert.equal(
        result.code,
        0,
        `README block ${i + 1} exited ${result.code}\n${result.output}\n--- code:\n${code}`,
      );
      if (service) assert.match(result.output, /ready/, `block ${i + 1} became ready`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await redis.stop();
  }
});

function runBlock(
  file: string,
  url: string,
  service: boolean,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    env: { ...process.env, REDIS_URL: url, HERALD_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stopped = false;
  const onData = (d: Buffer): void => {
    output += d.toString();
    if (service && !stopped && /ready"/.test(output)) {
      stopped = true;
      child.kill('SIGTERM');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => {
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
