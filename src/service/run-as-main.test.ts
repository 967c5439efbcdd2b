// runAsMain in a real process: SIGTERM lets the running handler finish and acknowledges it;
// a handler that outlives the deadline leaves its event pending (delivered again elsewhere).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createClient } from 'redis';
import { defineTopic, RedisBackend, silentLogger } from '../index.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';

const fixture = new URL('./fixtures/service.ts', import.meta.url).pathname;

async function runScenario(
  handlerMs: number,
  deadlineMs: number,
  signals: NodeJS.Signals[] = ['SIGTERM'],
) {
  const url = testRedisUrl();
  const prefix = uniquePrefix('svc');
  const handledKey = `${prefix}:handled`;
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fixture, url, prefix, handledKey, String(handlerMs), String(deadlineMs)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  await waitFor(() => out.includes('ready'), { timeoutMs: 60_000 });

  const herald = await RedisBackend.connect({ url, prefix, logger: silentLogger });
  const receipt = await herald.publish(defineTopic({ name: 'work' }), {
    data: { n: 1 },
    id: 'job-1',
  });
  await waitFor(() => out.includes('handling job-1'), { timeoutMs: 30_000 });
  for (const signal of signals) child.kill(signal);
  const [code] = await exited;

  const redis = createClient({ url });
  await redis.connect();
  const handled = await redis.sMembers(handledKey);
  const stream = `${prefix}:{work:${receipt.partition}}:stream`;
  const pending = await redis.sendCommand<[number, ...unknown[]]>(['XPENDING', stream, 'svc']);
  await redis.close();
  await herald.close();
  return { code, handled, pending: Number(pending[0]) };
}

void test('SIGTERM: the running handler finishes, its event is acknowledged, exit 0', async () => {
  const r = await runScenario(800, 10_000);
  assert.deepEqual(r, { code: 0, handled: ['job-1'], pending: 0 });
});

void test('a handler that outlives the deadline: exit 0 within it, the event stays pending', async () => {
  const started = Date.now();
  const r = await runScenario(60_000, 300);
  assert.deepEqual(r, { code: 0, handled: [], pending: 1 });
  assert.ok(Date.now() - started < 45_000, 'did not wait for the handler');
});

void test("Ctrl-C reaching the process group and a supervisor's SIGTERM together: one graceful close", async () => {
  const r = await runScenario(800, 10_000, ['SIGINT', 'SIGTERM']);
  assert.deepEqual(r, { code: 0, handled: ['job-1'], pending: 0 });
});
