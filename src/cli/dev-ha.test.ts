/**
 * `herald dev --ha` and `herald dev --cluster` from the command line: they print their
 * URLs, Herald connects through each, and Ctrl-C stops every process they started.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { defineTopic } from '../core/topic.ts';
import { connectHerald } from '../herald.ts';
import { uniquePrefix, waitFor } from '../test-support/redis.ts';
import { spawnHerald } from './testing.ts';

/** Publishes one event through `url` and reads it back as a group. */
async function roundTrip(url: string): Promise<void> {
  const backend = await connectHerald({ url, prefix: uniquePrefix('dev-ha') });
  try {
    const topic = defineTopic({ name: 'dev-ha' });
    const seen: string[] = [];
    const sub = backend.subscribe(topic, { group: 'g', startFrom: 'beginning' }, (e) => {
      seen.push(String((e.data as { hello: string }).hello));
    });
    await sub.ready;
    await backend.publish(topic, { data: { hello: url } });
    await waitFor(() => seen.includes(url), {
      timeoutMs: 20_000,
      message: `nothing read via ${url}`,
    });
    await sub.close({ deadlineMs: 2000 });
  } finally {
    await backend.close();
  }
}

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

void describe('herald dev --ha / --cluster', () => {
  void test('--ha prints a HAProxy redis:// URL and a redis+sentinel:// URL that both work; Ctrl-C stops everything', async () => {
    const dev = spawnHerald(['dev', '--ha', '--port', '0']);
    try {
      await dev.waitForOutput('stdout', (t) => /Press Ctrl-C/.test(t), 60_000);
      const out = dev.stdout();
      const haproxy = /redis:\/\/127\.0\.0\.1:\d+/.exec(out)?.[0];
      const sentinel = /redis\+sentinel:\/\/\S+\/mymaster/.exec(out)?.[0];
      const primaryPid = Number(/kill -9 (\d+)/.exec(out)?.[1]);
      assert.ok(haproxy !== undefined && sentinel !== undefined, out);
      await roundTrip(haproxy);
      await roundTrip(sentinel);
      dev.child.kill('SIGINT');
      const result = await dev.exited;
      assert.equal(result.code, 0, result.stderr);
      await waitFor(() => !alive(primaryPid), { message: 'the primary outlived herald dev' });
    } finally {
      dev.kill();
    }
  });

  void test('--cluster prints a redis+cluster:// URL of 3 primaries and 3 replicas that works', async () => {
    const dev = spawnHerald(['dev', '--cluster']);
    try {
      await dev.waitForOutput('stdout', (t) => /Press Ctrl-C/.test(t), 90_000);
      const out = dev.stdout();
      assert.match(out, /3 primaries, 3 replicas/);
      const url = /redis\+cluster:\/\/127\.0\.0\.1:\d+/.exec(out)?.[0];
      assert.ok(url !== undefined, out);
      await roundTrip(url);
      dev.child.kill('SIGTERM');
      const result = await dev.exited;
      assert.equal(result.code, 0, result.stderr);
    } finally {
      dev.kill();
    }
  });

  void test('--ha and --cluster cannot be combined', async () => {
    const dev = spawnHerald(['dev', '--ha', '--cluster']);
    const result = await dev.exited;
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /cannot be used with/);
  });
});
