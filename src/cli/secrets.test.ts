/**
 * No command prints a password. Every CLI command runs against a real password-protected
 * Redis with a distinctive password (raw '@', '/' and ':' in it), in every URL form (raw,
 * user:password, percent-encoded, wrong password, Sentinel, Cluster, wrong scheme,
 * unparseable), through --url and REDIS_URL, with and without HERALD_DEBUG=1; everything
 * written to stdout and stderr is searched for the password.
 *
 * The matrix runs `runCli` in this process with stdout and stderr captured (a process per
 * run would take minutes); a few runs go through `bin/herald.mjs` as a user runs it, which
 * also covers what only a real process prints.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServerHandle } from '../test-support/redis.ts';
import { runCli } from './main.ts';
import { runHerald, spawnHerald, type CliResult } from './testing.ts';

/** The canary: found anywhere in the output means a leak. */
const CANARY = 'Canary4711xq';
/** The real password: not URL-safe on purpose. */
const PASSWORD = `p@ss/w:${CANARY}`;
/** The exporter serves until stopped: how long to wait for its first line. */
const EXPORTER_START_MS = 60_000;

let server: RedisServerHandle;
let hostPort: string;

before(async () => {
  server = await startRedisServer({ appendonly: false, extraArgs: ['--requirepass', PASSWORD] });
  hostPort = `127.0.0.1:${server.port}`;
});
after(async () => {
  await server.stop();
});

interface Run {
  readonly args: readonly string[];
  readonly url: string;
  /** Pass the URL as REDIS_URL rather than --url. */
  readonly viaEnv: boolean;
  readonly debug: boolean;
}

type Write = typeof process.stdout.write;

/** Runs the CLI in this process; returns everything it wrote to stdout and stderr. */
async function runHere(run: Run): Promise<string> {
  let output = '';
  const capture = ((chunk: unknown, ...rest: unknown[]) => {
    output += typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as Write;
  const stdoutWrite = process.stdout.write.bind(process.stdout);
  const stderrWrite = process.stderr.write.bind(process.stderr);
  const env = { url: process.env.REDIS_URL, debug: process.env.HERALD_DEBUG };
  if (run.viaEnv) process.env.REDIS_URL = run.url;
  else delete process.env.REDIS_URL;
  if (run.debug) process.env.HERALD_DEBUG = '1';
  else delete process.env.HERALD_DEBUG;
  process.stdout.write = capture;
  process.stderr.write = capture;
  try {
    await runCli(['node', 'herald', ...run.args, ...(run.viaEnv ? [] : ['--url', run.url])]);
  } finally {
    process.stdout.write = stdoutWrite;
    process.stderr.write = stderrWrite;
    process.exitCode = undefined;
    if (env.url === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = env.url;
    if (env.debug === undefined) delete process.env.HERALD_DEBUG;
    else process.env.HERALD_DEBUG = env.debug;
  }
  return output;
}

function leaked(output: string): boolean {
  return output.includes(CANARY) || output.includes(encodeURIComponent(PASSWORD));
}

/** Every command that talks to Redis ('dev' starts its own, password-less Redis). */
const EVERY_COMMAND: readonly (readonly string[])[] = [
  ['topics'],
  ['topics', '--json'],
  ['groups', 'orders'],
  ['publish', 'orders', '{"n":1}'],
  ['tail', 'orders'],
  ['dlq', 'list', 'orders'],
  ['dlq', 'show', 'orders', '0-1'],
  ['dlq', 'replay', 'orders'],
  ['dlq', 'purge', 'orders'],
  ['trim', 'orders', '--max-len', '10'],
  ['doctor'],
  ['doctor', '--json'],
];

describe('the CLI never prints a password', () => {
  test('every command, in every URL form, through --url or REDIS_URL, with and without HERALD_DEBUG', async () => {
    const raw = `redis://:${PASSWORD}@${hostPort}`;
    // Forms that answer at once: every command runs with each.
    const fast: [string, string][] = [
      ['raw password', raw],
      ['wrong password', `redis://:${PASSWORD}-wrong@${hostPort}`],
      ['user:password', `redis://default:${PASSWORD}@${hostPort}`],
      ['percent-encoded', `redis://:${encodeURIComponent(PASSWORD)}@${hostPort}`],
      ['wrong scheme', `http://:${PASSWORD}@${hostPort}`],
      ['unparseable', `redis://:${PASSWORD}@127.0.0.1:notaport/x y`],
      ['Sentinel', `redis+sentinel://:${PASSWORD}@${hostPort},127.0.0.1:1/mymaster`],
    ];
    // Forms that fail only at the connect timeout (5 s): two commands each.
    const slow: [string, string][] = [
      ['Cluster', `redis+cluster://:${PASSWORD}@${hostPort},127.0.0.1:1`],
      ['TLS Cluster', `rediss+cluster://u:${PASSWORD}@${hostPort}`],
    ];
    const runs: (Run & { what: string })[] = [
      ...fast.flatMap(([what, url], f) =>
        EVERY_COMMAND.map((args, c) => ({
          what,
          url,
          args,
          viaEnv: (f + c) % 2 === 1,
          debug: (f + c) % 3 === 0,
        })),
      ),
      ...slow.flatMap(([what, url]) => [
        { what, url, args: ['topics'], viaEnv: false, debug: true },
        { what, url, args: ['doctor', '--json'], viaEnv: true, debug: false },
      ]),
      // bench connects with its own client, and would benchmark a Redis it can reach.
      { what: 'raw password', url: raw, args: ['bench', '--quick'], viaEnv: false, debug: true },
      {
        what: 'wrong scheme',
        url: `http://:${PASSWORD}@h`,
        args: ['bench'],
        viaEnv: true,
        debug: false,
      },
    ];
    const leaks: string[] = [];
    let printedUrl = false;
    for (const run of runs) {
      const output = await runHere(run);
      if (leaked(output)) leaks.push(`herald ${run.args.join(' ')} (${run.what}):\n${output}`);
      if (output.includes(`redis://:***@${hostPort}`)) printedUrl = true;
    }
    assert.deepEqual(leaks, []);
    assert.ok(printedUrl, 'doctor shows the URL, masked');
  });

  test('as a user runs it: the raw password is accepted, doctor --json and exporter --json show the URL masked, a debug stack trace hides it', async () => {
    const url = `redis://:${PASSWORD}@${hostPort}`;
    const exporter = spawnHerald(['exporter', '--json', '--port', '0', '--url', url]);
    const [doctor, debug] = await Promise.all([
      runHerald(['doctor', '--json'], { env: { REDIS_URL: url } }),
      runHerald(['topics', '--url', url.replace(hostPort, '127.0.0.1:notaport')], {
        env: { HERALD_DEBUG: '1' },
      }),
      exporter
        .waitForOutput('stdout', (t) => t.includes('\n'), EXPORTER_START_MS)
        .finally(() => exporter.kill()),
    ]);
    const exported: CliResult = await exporter.exited;
    assert.notEqual(doctor.stdout, '', doctor.stderr);
    assert.equal((JSON.parse(doctor.stdout) as { url: string }).url, `redis://:***@${hostPort}`);
    assert.equal(
      (JSON.parse(exported.stdout) as { redis: string }).redis,
      `redis://:***@${hostPort}`,
    );
    assert.match(debug.stderr, /ConfigError: Redis URL 'redis:\/\/:\*\*\*@127\.0\.0\.1:notaport'/);
    assert.match(debug.stderr, /\n {4}at /);
    for (const r of [doctor, debug, exported]) assert.ok(!leaked(r.stdout + r.stderr), r.stderr);
  });
});
