// Test runner: finds *.test.ts under src/, examples/, bench/, starts ONE redis-server for
// the whole suite, and runs node's test runner on the files with HERALD_TEST_REDIS_URL set.
//
//   node --import tsx scripts/run-tests.mjs              # all tests
//   node --import tsx scripts/run-tests.mjs src/redis    # only files whose path contains a filter
//
// If HERALD_TEST_REDIS_URL is already set, that Redis is used and none is started.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const roots = ['src', 'examples', 'bench'];
const skipDirs = new Set(['node_modules', '.git', '.herald', 'dist', 'coverage']);
const started = Date.now();

function findTests(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const files = [];
  for (const entry of entries) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skipDirs.has(entry.name)) files.push(...findTests(full));
    } else if (entry.isFile() && entry.name.endsWith('.test.ts')) {
      files.push(path.relative(root, full).split(path.sep).join('/'));
    }
  }
  return files;
}

function finish(code) {
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`\nrun-tests: total time ${seconds}s (exit code ${code})`);
  process.exit(code);
}

const filters = process.argv.slice(2).map((f) => f.replace(/^\.\//, '').replace(/\\/g, '/'));
const all = roots.flatMap((dir) => findTests(path.join(root, dir))).sort();
const files = filters.length ? all.filter((f) => filters.some((flt) => f.includes(flt))) : all;

if (files.length === 0) {
  console.error(
    filters.length
      ? `run-tests: no test files match ${filters.join(', ')} (${all.length} test files in total)`
      : `run-tests: no *.test.ts files found under ${roots.join(', ')}`,
  );
  finish(1);
}

let redis;
let url = process.env.HERALD_TEST_REDIS_URL;
if (url) {
  console.log(`run-tests: using HERALD_TEST_REDIS_URL=${url}`);
} else {
  const { startRedisServer } = await import('../src/embedded/redis-server.ts');
  try {
    redis = await startRedisServer();
  } catch (err) {
    console.error(`run-tests: could not start redis-server: ${err.message}`);
    finish(1);
  }
  url = redis.url;
  console.log(`run-tests: Redis for the suite at ${url} (pid ${redis.pid})`);
}
console.log(`run-tests: ${files.length} test file(s)\n`);

const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      HERALD_TEST_REDIS_URL: url,
      // Retries and dead letters are logged by default; keep the suite's output readable.
      HERALD_LOG_LEVEL: process.env.HERALD_LOG_LEVEL ?? 'error',
    },
  },
);

// Ctrl-C reaches the test runner directly (same process group); on SIGTERM, pass it on.
// Either way, wait for the runner to finish, then stop Redis.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));

const code = await new Promise((resolve) => {
  child.once('error', (err) => {
    console.error(`run-tests: could not run node --test: ${err.message}`);
    resolve(1);
  });
  child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
});

if (redis) {
  try {
    await redis.stop();
  } catch (err) {
    console.error(`run-tests: stopping redis-server failed: ${err.message}`);
  }
}
finish(code);
