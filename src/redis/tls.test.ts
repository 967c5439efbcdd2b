/**
 * TLS against a real TLS-only redis-server that requires client certificates, with
 * certificates generated here: mutual TLS accepted (files, PEM text, environment), plain TCP
 * refused, a wrong CA / missing client certificate / wrong server name / wrong password each
 * refused at once with a typed error, and reconnects kept over TLS.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { AuthError, ConfigError, ConnectionError, TlsError } from '../core/errors.ts';
import { waitFor } from '../test-support/redis.ts';
import {
  makeTestCertificates,
  startTlsRedisServer,
  type TestCertificates,
  type TlsRedisServer,
} from '../test-support/tls.ts';
import { connect, type RedisConnection } from './connection.ts';
import { tlsSocketOptions, TLS_ENV } from './tls.ts';
import { runHerald } from '../cli/testing.ts';

/** A password no URL parser accepts raw: '@', '/', ':' and '%'. */
const PASSWORD = 'Tls-S3cret@p/ss:w%rd';
/** Long enough that giving up "at once" cannot be confused with timing out. */
const SLOW_CONNECT_MS = 20_000;
/** "At once": one handshake, with room for a loaded machine. */
const AT_ONCE_MS = 8_000;

let certs: TestCertificates;
let server: TlsRedisServer;

before(async () => {
  certs = makeTestCertificates();
  server = await startTlsRedisServer(certs, { password: PASSWORD });
});
after(async () => {
  await server.stop();
});

function mtls(overrides: Record<string, string> = {}) {
  return { ca: certs.caCert, cert: certs.clientCert, key: certs.clientKey, ...overrides };
}

async function withConnection(
  conn: Promise<RedisConnection>,
  fn: (c: RedisConnection) => Promise<void>,
): Promise<void> {
  const c = await conn;
  try {
    await fn(c);
  } finally {
    await c.close();
  }
}

/** Connects expecting a failure; returns it with the time it took. */
async function failure(
  options: Parameters<typeof connect>[0],
): Promise<{ error: unknown; ms: number }> {
  const started = Date.now();
  try {
    const c = await connect(options);
    await c.close();
  } catch (error) {
    return { error, ms: Date.now() - started };
  }
  assert.fail('connect succeeded but should have failed');
}

describe('TLS', () => {
  test('mutual TLS with certificate files is accepted (password with @ / : % written raw)', async () => {
    await withConnection(connect({ url: server.url, tls: mtls() }), async (c) => {
      assert.equal(await c.send(['PING']), 'PONG');
      assert.equal(await c.send(['ECHO', 'over tls']), 'over tls');
    });
  });

  test('PEM text works as well as file paths, and the server name can be set', async () => {
    const pem = (file: string) => readFileSync(file, 'utf8');
    const tls = {
      ca: pem(certs.caCert),
      cert: pem(certs.clientCert),
      key: pem(certs.clientKey),
      servername: 'localhost',
    };
    await withConnection(connect({ url: server.url, tls }), async (c) => {
      assert.equal(await c.send(['PING']), 'PONG');
    });
  });

  test('the REDIS_TLS_* environment variables are used when no tls option is given', () => {
    const env = {
      [TLS_ENV.ca]: certs.caCert,
      [TLS_ENV.cert]: certs.clientCert,
      [TLS_ENV.key]: certs.clientKey,
      [TLS_ENV.servername]: 'localhost',
    };
    const socket = tlsSocketOptions(true, undefined, env);
    assert.equal(socket?.tls, true);
    assert.equal(socket?.servername, 'localhost');
    assert.match(String(socket?.ca), /BEGIN CERTIFICATE/);
    assert.match(String(socket?.key), /PRIVATE KEY/);
    // The option wins over the environment as a whole.
    assert.equal(tlsSocketOptions(true, { servername: 'x' }, env)?.ca, undefined);
  });

  test('TLS settings with a plain redis:// URL, or a certificate without its key, are a ConfigError', async () => {
    const plain = server.url.replace('rediss://', 'redis://');
    await assert.rejects(connect({ url: plain, tls: mtls() }), ConfigError);
    assert.throws(() => tlsSocketOptions(false, undefined, { [TLS_ENV.ca]: certs.caCert }), {
      name: 'ConfigError',
      message: /REDIS_TLS_CA_FILE.*rediss:\/\//,
    });
    await assert.rejects(
      connect({ url: server.url, tls: { ca: certs.caCert, cert: certs.clientCert } }),
      { name: 'ConfigError', message: /key is missing/ },
    );
    await assert.rejects(connect({ url: server.url, tls: { ca: '/nonexistent/ca.pem' } }), {
      name: 'ConfigError',
      message: /cannot read the TLS CA file '\/nonexistent\/ca.pem' \(ENOENT\)/,
    });
  });

  test('plain TCP to the TLS-only port is refused', async () => {
    const plain = server.url.replace('rediss://', 'redis://');
    const { error } = await failure({ url: plain, connectTimeoutMs: 1500 });
    assert.ok(error instanceof ConnectionError, String(error));
    assert.doesNotMatch(String((error as Error).message), /S3cret/);
  });

  test('a server certificate from another CA fails at once with a TlsError saying so', async () => {
    const { error, ms } = await failure({
      url: server.url,
      tls: mtls({ ca: certs.otherCaCert }),
      connectTimeoutMs: SLOW_CONNECT_MS,
    });
    assert.ok(error instanceof TlsError, String(error));
    assert.equal(error.code, 'HERALD_TLS');
    assert.match(error.message, /not signed by a trusted CA/);
    assert.ok(ms < AT_ONCE_MS, `took ${ms} ms`);
  });

  test('no client certificate, when the server requires one, fails at once with a TlsError', async () => {
    const { error, ms } = await failure({
      url: server.url,
      tls: { ca: certs.caCert },
      connectTimeoutMs: SLOW_CONNECT_MS,
    });
    assert.ok(error instanceof TlsError, String(error));
    assert.match(error.message, /client certificate/);
    assert.ok(ms < AT_ONCE_MS, `took ${ms} ms`);
  });

  test('a server name the certificate does not carry fails at once with a TlsError', async () => {
    const { error, ms } = await failure({
      url: server.url,
      tls: mtls({ servername: 'redis.example.com' }),
      connectTimeoutMs: SLOW_CONNECT_MS,
    });
    assert.ok(error instanceof TlsError, String(error));
    assert.match(error.message, /names another host/);
    assert.ok(ms < AT_ONCE_MS, `took ${ms} ms`);
  });

  test('a wrong password fails at once with an AuthError that does not show the password', async () => {
    const wrong = server.url.replace(PASSWORD, 'Wrong-Pa55@word');
    const { error, ms } = await failure({
      url: wrong,
      tls: mtls(),
      connectTimeoutMs: SLOW_CONNECT_MS,
    });
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(error.code, 'HERALD_AUTH');
    assert.match(error.message, /refused the credentials/);
    assert.doesNotMatch(error.message, /Pa55|S3cret/);
    assert.ok(ms < AT_ONCE_MS, `took ${ms} ms`);
  });

  test('clientOptions.socket is merged with the TLS settings and the reconnect strategy, and a killed TLS connection comes back', async () => {
    // The socket given through clientOptions used to replace Herald's socket settings.
    const conn = connect({
      url: server.url,
      tls: mtls(),
      clientOptions: { socket: { keepAlive: true } },
    });
    await withConnection(conn, async (c) => {
      const raw = c.raw as { options?: { socket?: Record<string, unknown> } };
      const socket = raw.options?.socket ?? {};
      assert.equal(typeof socket.reconnectStrategy, 'function');
      assert.equal(socket.tls, true);
      assert.equal(socket.keepAlive, true);
      const id = await c.send<number>(['CLIENT', 'ID']);
      await withConnection(connect({ url: server.url, tls: mtls() }), async (killer) => {
        await killer.send(['CLIENT', 'KILL', 'ID', String(id)]);
      });
      await waitFor(
        async () => (await c.send<number>(['CLIENT', 'ID'], { timeoutMs: 1000 })) !== id,
        {
          timeoutMs: 20_000,
          message: 'the TLS connection did not come back',
        },
      );
      assert.equal(await c.send(['PING']), 'PONG');
    });
  });

  test('the CLI takes --tls-* flags or REDIS_TLS_* variables, and says what is wrong', async () => {
    const flags = [
      '--tls-ca',
      certs.caCert,
      '--tls-cert',
      certs.clientCert,
      '--tls-key',
      certs.clientKey,
    ];
    const [withFlags, withEnv, wrongCa] = await Promise.all([
      runHerald(['topics', '--json', '--url', server.url, ...flags]),
      runHerald(['topics', '--json', '--url', server.url], {
        env: {
          [TLS_ENV.ca]: certs.caCert,
          [TLS_ENV.cert]: certs.clientCert,
          [TLS_ENV.key]: certs.clientKey,
        },
      }),
      runHerald(['topics', '--url', server.url, ...flags, '--tls-ca', certs.otherCaCert]),
    ]);
    assert.equal(withFlags.code, 0, withFlags.stderr);
    assert.deepEqual(JSON.parse(withFlags.stdout), []);
    assert.equal(withEnv.code, 0, withEnv.stderr);
    assert.equal(wrongCa.code, 1);
    assert.match(
      wrongCa.stderr,
      /^herald: connect to rediss:\/\/:\*\*\*@127\.0\.0\.1:\d+: TLS handshake failed \(SELF_SIGNED_CERT_IN_CHAIN: the server's certificate is not signed by a trusted CA/,
    );
  });
});
