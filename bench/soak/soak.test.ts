/**
 * The soak command end to end, shortened: about 25 s of traffic with a fault every 3-5 s
 * (seed 3: consumer SIGKILL, CLIENT KILL and Redis restarts), then the drain. It must exit 0
 * and print the checker's figures. The proxy blackhole is left out here: until Herald detects
 * dead peers, a blackholed connection stalls its client (`npm run soak` includes it).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MAIN = path.join(path.dirname(fileURLToPath(import.meta.url)), 'main.ts');

void test('a short soak with frequent faults loses nothing and prints its figures', async () => {
  const { stdout } = await run(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      '--minutes',
      '0.4',
      '--fault-every',
      '3-5',
      '--seed',
      '3',
      '--faults',
      'consumer-kill,redis-restart,client-kill',
      '--consumers',
      '2',
      '--drain-seconds',
      '30',
      '--stall-limit',
      '30',
    ],
    { timeout: 110_000 },
  ).catch((e: { code?: number; stdout?: string; stderr?: string }) => {
    assert.fail(`soak exited ${e.code}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  });
  assert.match(stdout, /lost: {7}0\n/);
  assert.match(stdout, /unexpected: 0\n/);
  assert.match(stdout, /duplicates: \d+/);
  assert.match(stdout, /longest stall: publishing \d+ s, handling \d+ s\n/);
  const published = Number(/published: {2}(\d+)/.exec(stdout)?.[1]);
  assert.ok(published > 0, stdout);
  const faults = /faults: {5}(.*)/.exec(stdout)?.[1] ?? '';
  const injected = [...faults.matchAll(/ (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
  assert.ok(injected >= 3, `only ${injected} faults: ${faults}`);
});
