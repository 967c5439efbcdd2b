/**
 * Launch a real HAProxy child process (Debian's `haproxy`) in front of a set of Redis
 * nodes, routing only to the node that reports `role:master` (for `herald dev --ha` and
 * the HA tests). The configuration is the one deploy/haproxy/haproxy.cfg documents for
 * production, with the addresses and check interval filled in.
 *
 * HAProxy only forwards TCP: it knows which node is the master from its health check
 * alone, so during a failover it routes to nothing (clients see refused or closed
 * connections) until the promoted replica answers `role:master` to a check.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from './find-binary.ts';
import { getFreePort } from './redis-server.ts';

/** How often HAProxy checks each node by default: a failover is seen within about this. */
export const HAPROXY_DEFAULT_CHECK_INTERVAL_MS = 500;
/**
 * Idle timeout of client and server connections. Consumers block in XREADGROUP for a few
 * seconds at most, so an hour only ever cuts connections that are really idle.
 */
const HAPROXY_IDLE_TIMEOUT = '1h';
const READY_TIMEOUT_MS = 10_000;
const READY_POLL_MS = 50;
const OUTPUT_LIMIT = 16_000;

const CANDIDATE_PATHS = ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy'];

/** Path of `haproxy` on PATH, else in the usual Debian locations; undefined if absent. */
export function findHaproxyBinary(): string | undefined {
  return findBinary('haproxy', CANDIDATE_PATHS);
}

export interface HaproxyRedisOptions {
  /** The Redis nodes (host:port); HAProxy sends clients to the one reporting role:master. */
  readonly servers: readonly { readonly host: string; readonly port: number }[];
  /** Port HAProxy listens on (127.0.0.1); 0 or undefined picks a free one. */
  readonly port?: number;
  /** Health check interval. Default HAPROXY_DEFAULT_CHECK_INTERVAL_MS. */
  readonly checkIntervalMs?: number;
  /** The AUTH line the check sends first, when the nodes require a password. */
  readonly checkPassword?: string;
}

export interface HaproxyServerState {
  /** redis1, redis2… in the order the servers were given. */
  readonly name: string;
  /** host:port */
  readonly address: string;
  /** UP, DOWN, or a transition such as 'UP 1/2'. */
  readonly status: string;
  /** Result of the last check; 'INI' before the first one has finished. */
  readonly checkStatus: string;
}

export interface HaproxyHandle {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** The configuration file HAProxy runs with. */
  readonly config: string;
  /** Each server's state as HAProxy sees it now (from its runtime API). */
  servers(): Promise<HaproxyServerState[]>;
  output(): string;
  /** SIGTERM (HAProxy stops at once), SIGKILL after a second; removes the config dir. */
  stop(): Promise<void>;
}

/**
 * The HAProxy configuration routing Redis clients to the master only. The check logs in
 * when asked, sends PING and `INFO replication`, and requires `role:master`; a node that
 * fails it is marked down after one check and `on-marked-down shutdown-sessions` closes
 * the connections still open to it, so clients of a demoted master reconnect to the new one.
 */
export function haproxyRedisConfig(options: {
  readonly listen: string;
  readonly servers: readonly { readonly host: string; readonly port: number }[];
  readonly checkIntervalMs: number;
  readonly checkPassword?: string;
  /** Unix socket for `show stat` (HAProxy's runtime API), if wanted. */
  readonly statsSocket?: string;
}): string {
  const auth =
    options.checkPassword === undefined
      ? []
      : [`  tcp-check send AUTH\\ ${options.checkPassword}\\r\\n`, '  tcp-check expect string +OK'];
  return [
    'global',
    '  maxconn 4096',
    ...(options.statsSocket !== undefined
      ? [`  stats socket ${options.statsSocket} mode 600 level operator`]
      : []),
    '',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    `  timeout client ${HAPROXY_IDLE_TIMEOUT}`,
    `  timeout server ${HAPROXY_IDLE_TIMEOUT}`,
    '  timeout check 1s',
    '',
    'frontend redis',
    `  bind ${options.listen}`,
    '  default_backend redis_master',
    '',
    'backend redis_master',
    '  option tcp-check',
    '  tcp-check connect',
    ...auth,
    '  tcp-check send PING\\r\\n',
    '  tcp-check expect string +PONG',
    // QUIT right behind INFO: a replica's reply ends with the connection closing, so its
    // check fails at once instead of waiting out `timeout check` for a match.
    '  tcp-check send INFO\\ replication\\r\\nQUIT\\r\\n',
    '  tcp-check expect string role:master',
    ...options.servers.map(
      (s, i) =>
        `  server redis${i + 1} ${s.host}:${s.port} check inter ${options.checkIntervalMs}ms ` +
        'fall 1 rise 1 on-marked-down shutdown-sessions',
    ),
    '',
  ].join('\n');
}

/** Sends one command to HAProxy's runtime API and returns the whole answer. */
function runtimeCommand(socketPath: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.once('error', reject);
    socket.once('end', () => resolve(answer));
    socket.once('connect', () => socket.write(`${command}\n`));
  });
}

/** The backend servers' rows of `show stat` (CSV whose header line starts with '# '). */
export function parseServerStates(csv: string): HaproxyServerState[] {
  const [header, ...rows] = csv.trim().split('\n');
  const columns = (header ?? '').replace(/^# /, '').split(',');
  const at = (row: string[], name: string): string => row[columns.indexOf(name)] ?? '';
  return rows
    .map((line) => line.split(','))
    .filter((row) => at(row, 'type') === '2')
    .map((row) => ({
      name: at(row, 'svname'),
      address: at(row, 'addr'),
      status: at(row, 'status'),
      checkStatus: at(row, 'check_status'),
    }));
}

/** True once a TCP connection to 127.0.0.1:port is accepted. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** Starts HAProxy in the foreground (`-db`) and resolves once it accepts connections. */
export async function startHaproxy(options: HaproxyRedisOptions): Promise<HaproxyHandle> {
  const binary = findHaproxyBinary();
  if (binary === undefined) {
    throw new Error('haproxy is not installed (Debian: apt-get install haproxy)');
  }
  installExitHook();
  const port =
    options.port !== undefined && options.port !== 0 ? options.port : await getFreePort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-haproxy-'));
  const config = path.join(dir, 'haproxy.cfg');
  const statsSocket = path.join(dir, 'haproxy.sock');
  writeFileSync(
    config,
    haproxyRedisConfig({
      listen: `127.0.0.1:${port}`,
      statsSocket,
      servers: options.servers,
      checkIntervalMs: options.checkIntervalMs ?? HAPROXY_DEFAULT_CHECK_INTERVAL_MS,
      ...(options.checkPassword !== undefined ? { checkPassword: options.checkPassword } : {}),
    }),
  );
  const child = spawn(binary, ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const append = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 1000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not start on port ${port}:\n${output.trim()}`);
    }
    await delay(READY_POLL_MS);
  }
  const servers = async (): Promise<HaproxyServerState[]> =>
    parseServerStates(await runtimeCommand(statsSocket, 'show stat'));
  // Until its first check has finished HAProxy counts a server as up: wait for every check,
  // so that no client is sent to a replica.
  for (;;) {
    const states = await servers().catch(() => []);
    if (states.length === options.servers.length && states.every((s) => s.checkStatus !== 'INI'))
      break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy did not check its servers in time:\n${output.trim()}`);
    }
    await delay(READY_POLL_MS);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    config,
    servers,
    output: () => output.trimEnd(),
    stop,
  };
}
