import { mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { startRedisServer, type RedisServerHandle } from '../../embedded/redis-server.ts';
import { runDevCluster, runDevHa } from './dev-ha.ts';

/**
 * Default port of `herald dev`: 6379, the port the library and the other commands use when
 * REDIS_URL is not set, so they work together without configuration. A system Redis already
 * there gets a clear error suggesting `--port N` or `--port 0`.
 */
export const DEV_DEFAULT_PORT = 6379;

interface DevOptions {
  port: number;
  dir: string;
  maxmemory?: string;
  ha?: boolean;
  cluster?: boolean;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535) {
    throw new InvalidArgumentError('expected a port number 0-65535 (0 = pick a free port).');
  }
  return port;
}

function parseMemory(value: string): string {
  if (!/^\d+(b|k|kb|m|mb|g|gb)?$/i.test(value)) {
    throw new InvalidArgumentError('expected a size such as 256mb, 1gb or 100000000.');
  }
  return value;
}

function assertPortFree(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `port ${port} is already in use (another Redis or herald dev?): ` +
                'choose one with --port N, or --port 0 for a free one',
            )
          : err,
      );
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()));
  });
}

/**
 * One line from a startRedisServer error: its first line plus redis's last log line
 * (e.g. "Can't chdir to '/x': Permission denied"), without the pid/timestamp prefix.
 */
function summarizeStartError(err: unknown): string {
  const lines = (err instanceof Error ? err.message : String(err)).split('\n');
  const head = lines[0] ?? '';
  const last = lines
    .slice(1)
    .filter((line) => line.trim() !== '' && !line.startsWith('---'))
    .at(-1)
    ?.replace(/^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [*#.-] /, '')
    .trim();
  return last ? `${head.replace(/\.$/, '')}: ${last}` : head;
}

async function runDev(opts: DevOptions): Promise<void> {
  if (opts.ha === true || opts.cluster === true) {
    if (opts.ha === true && opts.port !== 0) await assertPortFree(opts.port);
    const topology = { port: opts.port, maxmemory: opts.maxmemory };
    await (opts.ha === true ? runDevHa(topology) : runDevCluster(topology));
    return;
  }
  const dir = path.resolve(opts.dir);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot create the data directory ${dir}: ${reason}`, { cause: err });
  }
  if (opts.port !== 0) await assertPortFree(opts.port);

  let server: RedisServerHandle;
  try {
    server = await startRedisServer({
      port: opts.port,
      dir,
      appendonly: true,
      maxmemoryPolicy: 'noeviction',
      ...(opts.maxmemory !== undefined ? { maxmemory: opts.maxmemory } : {}),
    });
  } catch (err) {
    throw new Error(`could not start Redis: ${summarizeStartError(err)}`, { cause: err });
  }

  console.log(
    `Herald dev Redis ready at ${server.url} (data in ${dir}, AOF on). Press Ctrl-C to stop.`,
  );

  // The child process does not hold the event loop open; this does, until we exit.
  const keepAlive = setInterval(() => {}, 1 << 30);

  server.onUnexpectedExit(({ code, signal }) => {
    clearInterval(keepAlive);
    // Killed by a signal: the log says nothing useful. Exited by itself: show why.
    const last = signal === null ? server.output().split('\n').slice(-5).join('\n') : '';
    process.stderr.write(
      `herald: redis-server exited unexpectedly (code ${String(code)}, signal ${String(signal)})\n` +
        (last ? `${last}\n` : ''),
    );
    process.exit(1);
  });

  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // Second Ctrl-C: do not wait any longer.
      void server.kill().finally(() => process.exit(130));
      return;
    }
    stopping = true;
    process.stderr.write(`\nReceived ${signal}, stopping Redis...\n`);
    server.stop().then(
      () => {
        clearInterval(keepAlive);
        process.stderr.write('Redis stopped.\n');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(
          `herald: failed to stop Redis: ${err instanceof Error ? err.message : String(err)}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

/** Adds `herald dev` to the program. */
export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('run a local Redis for development (AOF on, noeviction), until Ctrl-C')
    .option('--port <n>', 'port to listen on; 0 picks a free port', parsePort, DEV_DEFAULT_PORT)
    .option('--dir <path>', 'data directory (AOF files)', './.herald/redis')
    .option('--maxmemory <size>', 'memory limit, e.g. 256mb (default: none)', parseMemory)
    .addOption(
      new Option(
        '--ha',
        'highly available: 1 primary + 2 replicas (AOF), 3 sentinels, HAProxy on --port',
      ).conflicts('cluster'),
    )
    .option('--cluster', 'a Redis Cluster: 3 primaries + 3 replicas on free ports (URL printed)')
    .addHelpText(
      'after',
      `
Examples:
  $ herald dev                      # Redis on redis://127.0.0.1:${DEV_DEFAULT_PORT}, data in ./.herald/redis
  $ herald dev --port 0             # pick a free port (printed on start)
  $ herald dev --port 6400 --dir /tmp/herald-redis --maxmemory 256mb
  $ herald dev --ha                 # HAProxy on redis://127.0.0.1:${DEV_DEFAULT_PORT} + a redis+sentinel:// URL
  $ herald dev --cluster            # redis+cluster://127.0.0.1:<port>, 6 nodes

Needs redis-server (Debian: apt-get install redis-server); --ha also haproxy.
Data survives restarts (append-only file). Ctrl-C stops Redis cleanly.
--ha and --cluster are for trying failovers: their data lives in temp dirs,
removed on exit (--dir does not apply); see docs/operations.md.`,
    )
    .action(async (opts: DevOptions) => {
      await runDev(opts);
    });
}
