import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { test } from 'node:test';
import { createClient } from 'redis';
import { findRedisServerBinary, startRedisServer } from './redis-server.ts';

/** Resolves 'refused' if nothing listens on the port, 'open' otherwise. */
function probePort(port: number): Promise<'open' | 'refused'> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve('open');
    });
    socket.once('error', () => resolve('refused'));
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const makeClient = (url: string) => createClient({ url });

async function withClient<T>(
  url: string,
  fn: (client: ReturnType<typeof makeClient>) => Promise<T>,
): Promise<T> {
  const client = makeClient(url);
  client.on('error', () => {}); // failures surface through the awaited commands
  await client.connect();
  try {
    return await fn(client);
  } finally {
    client.destroy();
  }
}

test('findRedisServerBinary finds redis-server', () => {
  const binary = findRedisServerBinary();
  assert.ok(binary, 'redis-server binary should be installed');
});

test('start: picks a free port and the url works with node-redis', async () => {
  const server = await startRedisServer();
  try {
    assert.ok(server.port > 0);
    assert.equal(server.url, `redis://127.0.0.1:${server.port}`);
    assert.ok(isAlive(server.pid));
    await withClient(server.url, async (client) => {
      await client.set('greeting', 'hello');
      assert.equal(await client.get('greeting'), 'hello');
      assert.equal(
        await client.configGet('maxmemory-policy').then((c) => c['maxmemory-policy']),
        'noeviction',
      );
      assert.equal(await client.configGet('appendonly').then((c) => c.appendonly), 'yes');
    });
  } finally {
    await server.stop();
  }
});

test('two servers get different ports', async () => {
  const [a, b] = await Promise.all([startRedisServer(), startRedisServer()]);
  try {
    assert.notEqual(a.port, b.port);
    assert.notEqual(a.dir, b.dir);
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test('restart keeps data with AOF (same port, same dir)', async () => {
  const server = await startRedisServer();
  try {
    const { port, dir, pid } = server;
    await withClient(server.url, async (client) => {
      for (let i = 0; i < 100; i++) await client.rPush('list', String(i));
      await client.set('k', 'v');
    });
    await server.restart();
    assert.equal(server.port, port);
    assert.equal(server.dir, dir);
    assert.notEqual(server.pid, pid);
    await withClient(server.url, async (client) => {
      assert.equal(await client.get('k'), 'v');
      assert.equal(await client.lLen('list'), 100);
    });
  } finally {
    await server.stop();
  }
});

test('kill() SIGKILLs: the port then refuses connections; fsync always survives a crash', async () => {
  const server = await startRedisServer({ appendfsync: 'always' });
  try {
    const { port, pid } = server;
    await withClient(server.url, (client) => client.set('durable', 'yes'));
    await server.kill();
    assert.equal(isAlive(pid), false);
    assert.equal(await probePort(port), 'refused');
    await server.restart();
    await withClient(server.url, async (client) => {
      assert.equal(await client.get('durable'), 'yes');
    });
  } finally {
    await server.stop();
  }
});

test('stop() is graceful: redis logs a clean shutdown', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'herald-redis-test-'));
  try {
    const logFile = path.join(dir, 'redis.log');
    const server = await startRedisServer({ dir, logFile });
    assert.equal(server.dir, dir);
    const { port, pid } = server;
    await server.stop();
    assert.equal(isAlive(pid), false);
    assert.equal(await probePort(port), 'refused');
    const log = readFileSync(logFile, 'utf8');
    assert.match(log, /Received SIGTERM scheduling shutdown/);
    assert.match(log, /ready to exit, bye bye/);
    // stop() twice is harmless
    await server.stop();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bad config rejects with redis output', async () => {
  await assert.rejects(
    startRedisServer({ extraArgs: ['--no-such-directive', 'x'] }),
    (err: Error) => {
      assert.match(err.message, /exited early/);
      assert.match(err.message, /no-such-directive/);
      return true;
    },
  );
});

test('a port already used by another server is not mistaken for ours', async () => {
  const first = await startRedisServer();
  try {
    await assert.rejects(startRedisServer({ port: first.port }), /exited early|already in use/);
  } finally {
    await first.stop();
  }
});

test('maxmemory and replicaOf are passed through', async () => {
  const primary = await startRedisServer({ maxmemory: '64mb' });
  try {
    const replica = await startRedisServer({
      replicaOf: { host: '127.0.0.1', port: primary.port },
    });
    try {
      await withClient(primary.url, async (client) => {
        assert.equal((await client.configGet('maxmemory')).maxmemory, String(64 * 1024 * 1024));
        await client.set('replicated', '1');
      });
      await withClient(replica.url, async (client) => {
        const deadline = Date.now() + 10_000;
        while ((await client.get('replicated')) !== '1') {
          assert.ok(Date.now() < deadline, 'replica did not catch up');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      });
    } finally {
      await replica.stop();
    }
  } finally {
    await primary.stop();
  }
});
