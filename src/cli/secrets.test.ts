/**
 * No command prints a password: every CLI command runs against a real password-protected
 * Redis with a distinctive password (raw '@', '/' and ':' in it), in every URL form (plain,
 * user:password, percent-encoded, wrong password, Sentinel, Cluster, wrong scheme, unparseable),
 * through --url and REDIS_URL, with and without HERALD_DEBUG=1; stdout and stderr are searched
 * for the password.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startRedisServer, type RedisServerHandle } from '../testing/redis.ts';
import { runHerald, spawnHerald, type CliResult } from './testing.ts';

/** The canary: found anywhere in the output means a leak. */
const CANARY = 'Canary4711xq';
/** The real password: not URL-safe on purpose. */
const PASSWORD = `p@ss/w:${CANARY}`;
/** Processes at a time: the machine is shared. */
const PARALLEL = 4;
/** The exporter serves until stopped: how long to wait for its first line. */
const EXPORTER_START_MS = 30_000;

let server: RedisServerHandle;
let port: number;

before(async () => {
  server = await startRedisServer({
    appendonly: false,
    extraArgs: ['--requirepass', PASSWORD],
  });
  port = server.port;
});
after(async () => {
  await server.stop();
});

interface Run {
  readonly what: string;
  readonly url: string;
  readonly args: readonly string[];
  /** Pass the URL as REDIS_URL rather than --url. */
  readonly viaEnv?: boolean;
  readonly debug?: boolean;
  /** Runs until stopped (the exporter): stop it after its first line of output. */
  readonly serves?: boolean;
}

async function execute(run: Run): Promise<CliResult> {
  const args = run.viaEnv === true ? [...run.args] : [...run.args, '--url', run.url];
  const env = {
    ...(run.viaEnv === true ? { REDIS_URL: run.url } : {}),
    ...(run.debug === true ? { HERALD_DEBUG: '1' } : {}),
  };
  if (run.serves !== true) return runHerald(args, { env });
  const p = spawnHerald(args, { env });
  try {
    await p.waitForOutput('stdout', (t) => t.includes('\n'), EXPORTER_START_MS).catch(() => {});
  } finally {
    p.kill();
  }
  return p.exited;
}

/** Runs all, a few at a time; returns every output that contains the canary. */
async function leaks(runs: readonly Run[]): Promise<string[]> {
  const found: string[] = [];
  const queue = [...runs];
  const worker = async (): Promise<void> => {
    for (let run = queue.shift(); run !== undefined; run = queue.shift()) {
      const r = await execute(run);
      const output = `${r.stdout}\n${r.stderr}`;
      if (output.includes(CANARY) || output.includes(encodeURIComponent(PASSWORD))) {
        found.push(`herald ${run.args.join(' ')} (${run.what}):\n${output}`);
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  return found;
}

/**
 * Every command that talks to Redis ('dev' starts its own, password-less Redis); doctor --json
 * and exporter --json, which show the URL, run in the next test.
 */
const EVERY_COMMAND: readonly (readonly string[])[] = [
  ['topics'],
  ['groups', 'orders'],
  ['publish', 'orders', '{"n":1}'],
  ['tail', 'orders'],
  ['dlq', 'list', 'orders'],
  ['dlq', 'show', 'orders', '0-1'],
  ['dlq', 'replay', 'orders'],
  ['dlq', 'purge', 'orders'],
  ['trim', 'orders', '--max-len', '10'],
  ['doctor'],
  ['bench', '--quick', '--only', 'raw-e2e'],
];

describe('the CLI never prints a password', () => {
  test('every command, with the raw password in the URL; and with a wrong one', async () => {
    const right = `redis://:${PASSWORD}@127.0.0.1:${port}`;
    const wrong = `redis://:${PASSWORD}-wrong@127.0.0.1:${port}`;
    // Alternately through --url or REDIS_URL, with or without HERALD_DEBUG=1.
    const runs: Run[] = EVERY_COMMAND.map((args, i) => ({
      what: 'right password',
      url: right,
      args,
      viaEnv: i % 2 === 1,
      debug: i % 3 === 0,
    }));
    runs.push(
      { what: 'wrong password', url: wrong, args: ['topics'], debug: true },
      { what: 'wrong password', url: wrong, args: ['doctor', '--json'], viaEnv: true },
    );
    assert.deepEqual(await leaks(runs), []);
  });

  test('the raw password is accepted: doctor --json and exporter --json connect and show the URL masked', async () => {
    const url = `redis://:${PASSWORD}@127.0.0.1:${port}`;
    const [doctor, exporter] = await Promise.all([
      runHerald(['doctor', '--json', '--url', url]),
      execute({ what: '', url, args: ['exporter', '--json', '--port', '0'], serves: true }),
    ]);
    assert.notEqual(doctor.stdout, '', doctor.stderr);
    assert.equal(
      (JSON.parse(doctor.stdout) as { url: string }).url,
      `redis://:***@127.0.0.1:${port}`,
    );
    assert.match(
      exporter.stdout,
      new RegExp(`"redis":"redis://:\\*\\*\\*@127\\.0\\.0\\.1:${port}"`),
    );
    assert.doesNotMatch(
      doctor.stdout + doctor.stderr + exporter.stdout + exporter.stderr,
      /Canary/,
    );
  });

  test('every URL form: user:password, encoded, Sentinel, Cluster, wrong scheme, unparseable', async () => {
    const hostPort = `127.0.0.1:${port}`;
    const forms: [string, string][] = [
      ['user:password', `redis://default:${PASSWORD}@${hostPort}`],
      ['percent-encoded', `redis://:${encodeURIComponent(PASSWORD)}@${hostPort}`],
      ['Sentinel', `redis+sentinel://:${PASSWORD}@${hostPort},127.0.0.1:1/mymaster`],
      ['Cluster', `rediss+cluster://:${PASSWORD}@${hostPort}`],
      ['wrong scheme', `http://:${PASSWORD}@${hostPort}`],
      ['unparseable', `redis://:${PASSWORD}@127.0.0.1:notaport/x y`],
    ];
    const runs: Run[] = forms.map(([what, url], i) => ({
      what,
      url,
      args: i % 2 === 0 ? ['topics'] : ['doctor', '--json'],
      viaEnv: i % 2 === 1,
      debug: i % 3 !== 2,
    }));
    assert.deepEqual(await leaks(runs), []);
  });
});
