// docs/tutorial.md, run as written: its `ts` blocks are saved under the file name their first
// line gives (in a folder of the repository, where `import 'herald'` resolves to the package)
// and run with tsx; its `sh` commands run through bin/herald.mjs. One Redis of its own stands
// in for `herald dev`. The page cannot drift from what the code does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runHerald, type CliResult } from './cli/testing.ts';
import { startRedisServer, waitFor } from './test-support/redis.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WAIT_MS = 60_000;

interface Block {
  readonly lang: string;
  readonly code: string;
}

function tutorialBlocks(): Block[] {
  const text = readFileSync(path.join(root, 'docs', 'tutorial.md'), 'utf8');
  return [...text.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({
    lang: m[1] ?? '',
    code: m[2] ?? '',
  }));
}

interface Service {
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
}

function startService(file: string, url: string): Service {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd: root,
    env: { ...process.env, REDIS_URL: url, HERALD_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => out, exited };
}

async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  await waitFor(check, { timeoutMs: WAIT_MS, intervalMs: 50, message: what });
}

void test('the tutorial runs as written: two services, a dead letter, a fix and a replay', async () => {
  const blocks = tutorialBlocks();
  const ts = blocks.filter((b) => b.lang === 'ts');
  const sh = blocks.filter((b) => b.lang === 'sh').map((b) => b.code.trim());
  const fileOf = (b: Block): string => /^\/\/ (\S+\.ts)\n/.exec(b.code)?.[1] ?? '';
  assert.deepEqual(ts.map(fileOf), ['billing.ts', 'orders.ts', 'billing.ts']);
  assert.deepEqual(sh, [
    'npx herald dev --port 6379',
    'npx herald dlq list orders',
    'npx herald dlq replay orders --group billing',
  ]);
  const [billing, orders, billingFixed] = ts as [Block, Block, Block];
  if (!existsSync(path.join(root, 'dist', 'index.js'))) {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root });
  }
  const redis = await startRedisServer();
  mkdirSync(path.join(root, '.herald'), { recursive: true });
  const dir = mkdtempSync(path.join(root, '.herald', 'tutorial-'));
  const services: Service[] = [];
  const herald = (command: string): Promise<CliResult> =>
    runHerald(command.replace(/^npx herald /, '').split(' '), { env: { REDIS_URL: redis.url } });
  try {
    // 2. billing
    writeFileSync(path.join(dir, 'billing.ts'), billing.code);
    const first = startService(path.join(dir, 'billing.ts'), redis.url);
    services.push(first);
    await until('billing ready', () => /billing ready/.test(first.output()));

    // 3. orders
    writeFileSync(path.join(dir, 'orders.ts'), orders.code);
    const publisher = startService(path.join(dir, 'orders.ts'), redis.url);
    assert.equal(await publisher.exited, 0, publisher.output());
    assert.match(publisher.output(), /published 2 orders/);
    await until('order 1001 charged', () => first.output().includes('charged order 1001: 25 EUR'));

    // 4. the dead letter
    let listed: CliResult | undefined;
    await until('order 1002 dead-lettered', async () => {
      listed = await herald(sh[1] ?? '');
      return listed.stdout.includes('order-1002');
    });
    assert.equal(listed?.code, 0);
    assert.match(listed?.stdout ?? '', /billing\s+order-1002\s+handler-failed\s+3\s/);
    assert.match(listed?.stdout ?? '', /order 1002 has no currency/);

    // 5. fix, restart, replay
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.output());
    writeFileSync(path.join(dir, 'billing.ts'), billingFixed.code);
    const fixed = startService(path.join(dir, 'billing.ts'), redis.url);
    services.push(fixed);
    await until('fixed billing ready', () => /billing ready/.test(fixed.output()));
    const replayed = await herald(sh[2] ?? '');
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.match(replayed.stdout, /replayed 1 dead letter/);
    await until('order 1002 charged', () => fixed.output().includes('charged order 1002: 40 EUR'));
    assert.ok(!fixed.output().includes('charged order 1001'), 'the group resumed: 1001 not again');
    const after = await herald(sh[1] ?? '');
    assert.match(after.stdout, /no dead letters in 'orders'/);
    fixed.child.kill('SIGTERM');
    assert.equal(await fixed.exited, 0, fixed.output());
  } finally {
    for (const s of services) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    await redis.stop();
  }
});
