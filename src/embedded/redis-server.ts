/**
 * Launch a real `redis-server` child process (for `herald dev`, tests and demos).
 *
 * Configuration is passed on the command line; nothing is read from /etc/redis.
 * Children are SIGKILLed when the parent process exits, and temp data dirs created
 * here are removed at that point too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from './find-binary.ts';

export interface RedisServerOptions {
  /** 0 or undefined = pick a free port. */
  port?: number;
  /** Data dir; default: a new temp dir under os.tmpdir() (removed when this process exits). */
  dir?: string;
  /** Default true. */
  appendonly?: boolean;
  /** Default 'everysec'. */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** E.g. '64mb'; default none. */
  maxmemory?: string;
  /** Default 'noeviction'. */
  maxmemoryPolicy?: string;
  /** Appended last, e.g. ['--loglevel', 'warning']. */
  extraArgs?: string[];
  replicaOf?: { host: string; port: number };
  /** Redis log file; default: redis logs to stdout, which is captured in memory. */
  logFile?: string;
}

export interface RedisServerHandle {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Pid of the current child (changes after restart()). */
  readonly pid: number;
  /** Graceful: SIGTERM (redis fsyncs the AOF and exits), SIGKILL after 5 s. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit (simulates a crash). */
  kill(): Promise<void>;
  /** stop() then start again on the same port and dir; resolves once the data is loaded. */
  restart(): Promise<void>;
  /** Last lines of redis output (stdout/stderr, or the log file when logFile is set). */
  output(): string;
  /**
   * Called when the child exits without stop()/kill()/restart() having been asked for
   * (crash, killed from outside). Returns an unsubscribe function.
   */
  onUnexpectedExit(
    listener: (info: { code: number | null; signal: NodeJS.Signals | null }) => void,
  ): () => void;
}

/** How long a server may take to answer at all after it was started. */
const READY_TIMEOUT_MS = 10_000;
/**
 * How long a server that answers "loading" (reading its AOF or RDB) may take: loading is
 * progress, and a large AOF on a busy machine takes far longer than a start. Killing it
 * there would leave Redis down (and its data unread) for nothing.
 */
const LOADING_TIMEOUT_MS = 10 * 60_000;
const POLL_INTERVAL_MS = 20;
const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_LIMIT = 32 * 1024;
const OUTPUT_TAIL_LINES = 30;

const CANDIDATE_PATHS = [
  '/usr/bin/redis-server',
  '/usr/sbin/redis-server',
  '/usr/local/bin/redis-server',
];

/** Path of `redis-server` on PATH, else in the usual Debian locations; undefined if absent. */
export function findRedisServerBinary(): string | undefined {
  return findBinary('redis-server', CANDIDATE_PATHS);
}

// ---------------------------------------------------------------------------
// Process-exit cleanup

const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
let cleanupRegistered = false;

function killAllChildren(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  liveChildren.clear();
}

function registerCleanup(): void {
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.on('exit', () => {
    killAllChildren();
    for (const dir of tempDirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort
      }
    }
  });
  // A signal with no handler kills Node without running 'exit' handlers. When nobody else
  // handles the signal, kill the children and then re-raise it so the default behaviour
  // (terminate) still applies. When the application has its own handler, it is in charge.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      if (process.listenerCount(signal) > 1) return;
      killAllChildren();
      process.removeListener(signal, handler);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

// ---------------------------------------------------------------------------
// Helpers

/** A port that was free a moment ago (bind port 0, read it, close). */
export async function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error('could not determine a free port'));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}

type PingResult = 'ready' | 'loading' | 'foreign' | 'down';

/**
 * One raw `PING` (plus `INFO server`, to check the answering process is ours and not
 * another server already on that port) over TCP.
 */
function pingOnce(port: number, expectedPid: number | undefined): Promise<PingResult> {
  return new Promise((resolve) => {
    let settled = false;
    let buffer = '';
    const socket = net.connect({ host: '127.0.0.1', port });
    const done = (result: PingResult): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(1_000, () => done('down'));
    socket.once('error', () => done('down'));
    socket.once('close', () => done('down'));
    socket.once('connect', () => socket.write('PING\r\nINFO server\r\n'));
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      const end = buffer.indexOf('\r\n');
      if (end === -1) return;
      const line = buffer.slice(0, end);
      // Server is up but wants AUTH (requirepass in extraArgs): nothing more to learn.
      if (line.startsWith('-NOAUTH')) return done('ready');
      if (line !== '+PONG') return done('loading'); // -LOADING, -BUSY, -MASTERDOWN ...
      const info = buffer.slice(end + 2);
      const match = /process_id:(\d+)\r\n/.exec(info);
      if (match) {
        return done(
          expectedPid === undefined || Number(match[1]) === expectedPid ? 'ready' : 'foreign',
        );
      }
      if (info.startsWith('-')) done('ready'); // INFO refused (renamed command...): trust PONG
    });
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function tailLines(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

class StartError extends Error {
  constructor(
    message: string,
    readonly addressInUse: boolean,
  ) {
    super(message);
    this.name = 'RedisServerStartError';
  }
}

// ---------------------------------------------------------------------------
// Server

class RedisServer implements RedisServerHandle {
  private child: ChildProcess | undefined;
  private exitPromise: Promise<ExitInfo> | undefined;
  private outputBuffer = '';
  private expectingExit = false;
  private readonly unexpectedExitListeners = new Set<(info: ExitInfo) => void>();

  constructor(
    private readonly binary: string,
    private currentPort: number,
    readonly dir: string,
    private readonly opts: RedisServerOptions,
    private readonly logFile: string | undefined,
  ) {}

  get port(): number {
    return this.currentPort;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.currentPort}`;
  }

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  output(): string {
    let text = this.outputBuffer;
    if (this.logFile !== undefined) {
      try {
        text = readFileSync(this.logFile, 'utf8').slice(-OUTPUT_LIMIT);
      } catch {
        // no log yet
      }
    }
    return tailLines(text, OUTPUT_TAIL_LINES);
  }

  onUnexpectedExit(listener: (info: ExitInfo) => void): () => void {
    this.unexpectedExitListeners.add(listener);
    return () => this.unexpectedExitListeners.delete(listener);
  }

  setPort(port: number): void {
    this.currentPort = port;
  }

  private args(): string[] {
    const o = this.opts;
    const args = [
      '--port',
      String(this.currentPort),
      '--dir',
      this.dir,
      '--appendonly',
      o.appendonly === false ? 'no' : 'yes',
      '--appendfsync',
      o.appendfsync ?? 'everysec',
      '--save',
      '',
      '--bind',
      '127.0.0.1',
      '--protected-mode',
      'no',
      '--daemonize',
      'no',
      '--maxmemory-policy',
      o.maxmemoryPolicy ?? 'noeviction',
      // Replicas (replicaOf) sync at once instead of after the default 5 s delay.
      '--repl-diskless-sync-delay',
      '0',
    ];
    if (o.maxmemory !== undefined) args.push('--maxmemory', o.maxmemory);
    if (o.replicaOf !== undefined) {
      args.push('--replicaof', o.replicaOf.host, String(o.replicaOf.port));
    }
    if (this.logFile !== undefined) args.push('--logfile', this.logFile);
    args.push(...(o.extraArgs ?? []));
    return args;
  }

  /** Spawn the child and wait until it answers PING (data loaded). */
  async start(): Promise<void> {
    this.outputBuffer = '';
    this.expectingExit = false;
    const child = spawn(this.binary, this.args(), {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    liveChildren.add(child);

    const append = (chunk: Buffer): void => {
      this.outputBuffer = (this.outputBuffer + chunk.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);

    let exited: ExitInfo | undefined;
    let spawnError: Error | undefined;
    this.exitPromise = new Promise<ExitInfo>((resolve) => {
      child.once('error', (err) => {
        spawnError = err;
        liveChildren.delete(child);
        exited = { code: null, signal: null };
        resolve(exited);
      });
      child.once('exit', (code, signal) => {
        liveChildren.delete(child);
        exited = { code, signal };
        resolve(exited);
        if (!this.expectingExit && this.child === child) {
          for (const listener of this.unexpectedExitListeners) listener(exited);
        }
      });
    });

    // Do not keep the parent alive just because a server is running: a forgotten
    // server must not hang a test file. The 'exit' handler kills it.
    child.unref();
    (child.stdout as net.Socket | null)?.unref();
    (child.stderr as net.Socket | null)?.unref();

    const started = Date.now();
    for (;;) {
      if (exited !== undefined) {
        const how = spawnError
          ? `failed to start: ${spawnError.message}`
          : `exited early (code ${String(exited.code)}, signal ${String(exited.signal)})`;
        const out = this.output();
        throw new StartError(
          `redis-server ${how} on port ${this.currentPort}.` +
            (out ? `\n--- redis output ---\n${out}` : ''),
          /Address already in use/i.test(out),
        );
      }
      const result = await pingOnce(this.currentPort, child.pid);
      if (result === 'ready' && exited === undefined) return;
      const limit = result === 'loading' ? LOADING_TIMEOUT_MS : READY_TIMEOUT_MS;
      if (Date.now() - started > limit) {
        this.expectingExit = true;
        child.kill('SIGKILL');
        await this.exitPromise;
        const out = this.output();
        throw new StartError(
          `redis-server did not become ready on port ${this.currentPort} within ` +
            `${limit} ms (last PING: ${result}).` +
            (out ? `\n--- redis output ---\n${out}` : ''),
          false,
        );
      }
      await delay(POLL_INTERVAL_MS);
    }
  }

  private async waitForExit(killAfterMs: number | undefined): Promise<void> {
    const child = this.child;
    const exitPromise = this.exitPromise;
    if (child === undefined || exitPromise === undefined) return;
    // Keep the event loop alive while we wait for the child.
    child.ref();
    let timer: NodeJS.Timeout | undefined;
    if (killAfterMs !== undefined) {
      timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    }
    try {
      await exitPromise;
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  private isRunning(): boolean {
    const child = this.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async stop(): Promise<void> {
    this.expectingExit = true;
    if (this.isRunning()) this.child?.kill('SIGTERM');
    await this.waitForExit(STOP_TIMEOUT_MS);
  }

  async kill(): Promise<void> {
    this.expectingExit = true;
    if (this.isRunning()) this.child?.kill('SIGKILL');
    await this.waitForExit(undefined);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }
}

/**
 * Start a redis-server child process and wait until it answers PING.
 * Throws with the tail of redis's output if it exits early or is not ready within 10 s.
 */
export async function startRedisServer(opts: RedisServerOptions = {}): Promise<RedisServerHandle> {
  const binary = findRedisServerBinary();
  if (binary === undefined) {
    throw new Error(
      "redis-server is not installed: run 'sudo apt-get install redis-server' " +
        '(or scripts/ensure-deps.sh redis-server)',
    );
  }
  registerCleanup();

  let dir: string;
  if (opts.dir !== undefined) {
    dir = path.resolve(opts.dir);
    mkdirSync(dir, { recursive: true });
  } else {
    dir = mkdtempSync(path.join(os.tmpdir(), 'herald-redis-'));
    tempDirs.add(dir);
  }
  // Redis chdir()s into --dir, so a relative log path would land there.
  const logFile = opts.logFile !== undefined ? path.resolve(opts.logFile) : undefined;

  const pickPort = opts.port === undefined || opts.port === 0;
  const server = new RedisServer(
    binary,
    pickPort ? await getFreePort() : (opts.port ?? 0),
    dir,
    opts,
    logFile,
  );
  // A picked port can be taken between probing and binding: retry a few times.
  for (let attempt = 1; ; attempt++) {
    try {
      await server.start();
      return server;
    } catch (err) {
      if (pickPort && attempt < 5 && err instanceof StartError && err.addressInUse) {
        server.setPort(await getFreePort());
        continue;
      }
      throw err;
    }
  }
}
