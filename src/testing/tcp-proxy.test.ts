import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, test } from 'node:test';

import { testRedisUrl, waitFor } from '../test-support/redis.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

/** How long a blackholed connection must stay silent for the test to call it silent. */
const SILENCE_MS = 300;

let proxy: TcpProxy;

before(async () => {
  const target = new URL(testRedisUrl());
  proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
});

after(async () => {
  await proxy.close();
});

interface RawClient {
  readonly socket: net.Socket;
  /** Resolves with the bytes received within `withinMs` after sending PING (empty if none). */
  ping(withinMs: number): Promise<string>;
  readonly closed: Promise<string>;
}

async function connect(): Promise<RawClient> {
  const socket = net.connect({ host: '127.0.0.1', port: proxy.port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  const closed = new Promise<string>((resolve) => {
    let code = 'closed';
    socket.on('error', (err: NodeJS.ErrnoException) => (code = err.code ?? err.message));
    socket.on('close', () => resolve(code));
  });
  return {
    socket,
    closed,
    async ping(withinMs) {
      received = '';
      socket.write('PING\r\n');
      await waitFor(() => received.length > 0, { timeoutMs: withinMs }).catch(() => undefined);
      return received;
    },
  };
}

test('forwards, blackholes old and new connections, heals new ones, and cuts with a RST', async () => {
  const first = await connect();
  assert.equal(await first.ping(5_000), '+PONG\r\n');
  await waitFor(() => proxy.connections === 1);

  proxy.blackhole();
  assert.equal(await first.ping(SILENCE_MS), '', 'an existing connection is silent');
  const during = await connect();
  assert.equal(await during.ping(SILENCE_MS), '', 'a new connection hangs too');
  await waitFor(() => proxy.connections === 2);

  proxy.heal();
  const healed = await connect();
  assert.equal(await healed.ping(5_000), '+PONG\r\n', 'a new connection forwards again');
  assert.equal(await first.ping(SILENCE_MS), '', 'a connection blackholed before stays silent');
  assert.equal(await during.ping(SILENCE_MS), '');

  proxy.cutAll();
  assert.deepEqual(await Promise.all([first.closed, during.closed, healed.closed]), [
    'ECONNRESET',
    'ECONNRESET',
    'ECONNRESET',
  ]);
  assert.equal(proxy.connections, 0);
});
