/**
 * A fault-injecting TCP proxy for tests, on loopback only.
 *
 * It forwards bytes between clients and one target (a redis-server) and can inject the two
 * network faults that matter to a Redis client:
 *
 * - `blackhole()`: every connection stays open but nothing is forwarded in either direction,
 *   and new connections are accepted and hang the same way. This is what a dead host behind
 *   a NAT, a load balancer or a cloud network looks like: no FIN, no RST, just silence. Only a
 *   client-side deadline can detect it.
 * - `cutAll()`: every current connection is destroyed with a RST, which the client sees at once.
 *
 * `heal()` lets new connections through again; connections that were blackholed stay silent
 * forever (as they would behind a NAT that lost its mapping), so the client must give up on
 * them and reconnect.
 */
import net from 'node:net';

export interface TcpProxy {
  readonly port: number; // listening on 127.0.0.1
  readonly url: string; // `redis://127.0.0.1:${port}`
  /** Existing connections stay open but nothing is forwarded either way; new connections are accepted and hang the same way. */
  blackhole(): void;
  /** New connections forward again; connections blackholed before stay silent (their peer must give up on them). */
  heal(): void;
  /** Destroys every current connection with a RST (a cut, not a blackhole). */
  cutAll(): void;
  readonly connections: number; // open client connections now
  close(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';

/** One client connection and, unless it was accepted while blackholed, its upstream socket. */
interface ProxiedConnection {
  readonly client: net.Socket;
  readonly upstream: net.Socket | undefined;
  blackholed: boolean;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<ProxiedConnection>();
  let blackholing = false;

  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = blackholing
      ? undefined
      : net.connect({ host: target.host, port: target.port, noDelay: true });
    const conn: ProxiedConnection = { client, upstream, blackholed: blackholing };
    open.add(conn);

    client.on('error', () => undefined);
    client.on('close', () => {
      open.delete(conn);
      upstream?.destroy();
    });
    if (upstream === undefined) {
      // Accepted while blackholing: read and drop everything, never answer.
      client.on('data', () => undefined);
      return;
    }
    upstream.on('error', () => undefined);
    upstream.on('close', () => {
      // A blackholed client must not learn that the server went away.
      if (!conn.blackholed) client.destroy();
    });
    forward(conn, client, upstream);
    forward(conn, upstream, client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    server.close();
    throw new Error('tcp proxy: the server has no TCP address');
  }
  const port = address.port;

  return {
    port,
    url: `redis://${LOOPBACK}:${port}`,
    blackhole() {
      blackholing = true;
      for (const conn of open) {
        conn.blackholed = true;
        // Paused sources (waiting for a drain that will never be forwarded) read and drop again.
        conn.client.resume();
        conn.upstream?.resume();
      }
    },
    heal() {
      blackholing = false;
    },
    cutAll() {
      for (const conn of [...open]) {
        open.delete(conn);
        conn.client.resetAndDestroy();
        conn.upstream?.resetAndDestroy();
      }
    },
    get connections() {
      return open.size;
    },
    async close() {
      for (const conn of open) {
        conn.client.destroy();
        conn.upstream?.destroy();
      }
      open.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Copy `from` to `to` with back-pressure until the connection is blackholed, then drop. */
function forward(conn: ProxiedConnection, from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (conn.blackholed) return;
    if (!to.write(chunk)) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  });
}
