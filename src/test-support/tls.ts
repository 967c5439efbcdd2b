/**
 * TLS for tests: certificates made with `openssl` in a temp dir (a CA, a server certificate
 * for localhost/127.0.0.1, a client certificate, and a second CA that signed nothing the
 * server has), and a TLS-only redis-server (`--port 0`, plain TCP is not served) that wants
 * client certificates. Both are removed / killed when the test process exits.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findRedisServerBinary, getFreePort } from '../embedded/redis-server.ts';
import { waitFor } from './redis.ts';

export interface TestCertificates {
  readonly dir: string;
  readonly caCert: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA that signed neither the server's nor the client's certificate. */
  readonly otherCaCert: string;
}

const CERT_DAYS = '2';
/** EC keys: made in milliseconds, where RSA keys take a while on a loaded machine. */
const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
const READY_TIMEOUT_MS = 20_000;

const cleanups = new Set<() => void>();
let exitHookInstalled = false;
function onExit(cleanup: () => void): void {
  cleanups.add(cleanup);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const c of cleanups) c();
  });
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

function selfSignedCa(cwd: string, name: string, cn: string): void {
  openssl(
    ['req', '-x509', ...KEY_ARGS, '-nodes', '-days', CERT_DAYS].concat([
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-subj',
      `/CN=${cn}`,
    ]),
    cwd,
  );
}

function signedBy(cwd: string, ca: string, name: string, cn: string, ext?: string): void {
  openssl(
    ['req', ...KEY_ARGS, '-nodes', '-keyout', `${name}.key`].concat([
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    ]),
    cwd,
  );
  openssl(
    ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`]
      .concat(['-CAcreateserial', '-out', `${name}.crt`, '-days', CERT_DAYS])
      .concat(ext !== undefined ? ['-extfile', ext] : []),
    cwd,
  );
}

/** Generates the test certificates (a few hundred ms of openssl). */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-tls-'));
  onExit(() => rmSync(dir, { recursive: true, force: true }));
  selfSignedCa(dir, 'ca', 'Herald Test CA');
  selfSignedCa(dir, 'other-ca', 'Some Other CA');
  writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  signedBy(dir, 'ca', 'server', 'localhost', 'server.ext');
  signedBy(dir, 'ca', 'client', 'herald-test-client');
  const at = (f: string): string => path.join(dir, f);
  return {
    dir,
    caCert: at('ca.crt'),
    serverCert: at('server.crt'),
    serverKey: at('server.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    otherCaCert: at('other-ca.crt'),
  };
}

export interface TlsRedisServer {
  readonly port: number;
  /** rediss://127.0.0.1:<port>, with the password when one was asked for. */
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

export interface TlsRedisServerOptions {
  /** requirepass (written raw in `url`, to exercise passwords that are not URL-safe). */
  readonly password?: string;
  /** Client certificates required (default) or optional. */
  readonly requireClientCert?: boolean;
}

/** Starts a redis-server that only speaks TLS; resolves once it accepts connections. */
export async function startTlsRedisServer(
  certs: TestCertificates,
  options: TlsRedisServerOptions = {},
): Promise<TlsRedisServer> {
  const binary = findRedisServerBinary();
  if (binary === undefined) throw new Error('redis-server is not installed');
  const port = await getFreePort();
  const args = ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1']
    .concat(['--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey])
    .concat(['--tls-ca-cert-file', certs.caCert])
    .concat(['--tls-auth-clients', options.requireClientCert === false ? 'optional' : 'yes'])
    .concat(['--save', '', '--appendonly', 'no', '--dir', certs.dir])
    .concat(options.password !== undefined ? ['--requirepass', options.password] : []);
  const child: ChildProcess = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = (): void => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  onExit(kill);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (output += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (output += s));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`redis-server exited: ${output}`);
      return output.includes('Ready to accept connections');
    },
    { timeoutMs: READY_TIMEOUT_MS, intervalMs: 20, message: 'TLS redis-server did not start' },
  );
  const auth = options.password !== undefined ? `:${options.password}@` : '';
  return {
    port,
    url: `rediss://${auth}127.0.0.1:${port}`,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      cleanups.delete(kill);
    },
  };
}
