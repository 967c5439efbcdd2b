/**
 * The benchmark runner: picks the Redis (the given URL, or a private
 * redis-server with AOF appendfsync everysec), then runs every selected
 * scenario once per pass, in the same order each pass (round robin, so
 * Herald and the scenario it is compared with always run close together),
 * each in a child process of its own. Progress goes to `log`.
 */
import { fork } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRedisServer, type RedisServerHandle } from '../src/index.ts';
import {
  checkTargets,
  chooseFloors,
  compare,
  summarize,
  type Comparison,
  type FloorChoice,
  type RunOutcome,
  type ScenarioRecord,
  type TargetCheck,
} from './aggregate.ts';
import { DEFAULT_EVENTS, selectScenarios, type ScenarioDef } from './catalogue.ts';
import { renderChart } from './chart.ts';
import type { ChildMessage, ChildRequest } from './child.ts';
import { AofQuiet } from './aof-quiet.ts';
import { machineInfo, redisInfo, type MachineInfo, type RedisInfo } from './machine.ts';
import { renderMarkdown } from './report.ts';
import type { RunResult } from './types.ts';
import { costFigures } from './types.ts';

export interface BenchOptions {
  /** Redis to measure against; default REDIS_URL, else a private redis-server. */
  readonly url?: string | undefined;
  /** Small counts, one run: checks that everything works, measures nothing worth quoting. */
  readonly quick?: boolean;
  readonly runs?: number;
  /** Events per throughput run (peers run a fraction). Default 50 000; --quick 2 000. */
  readonly events?: number;
  readonly only?: readonly string[] | undefined;
  /** Directory for latest.json / latest.md / latest.svg. Default bench/results. */
  readonly outDir?: string;
  /** Write V8 CPU profiles of the scenario processes here (node --cpu-prof). */
  readonly profileDir?: string | undefined;
  /** Progress lines. Default: stderr. */
  readonly log?: (line: string) => void;
}

export interface BenchResults {
  readonly version: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly options: {
    readonly quick: boolean;
    readonly runs: number;
    readonly events: number;
    readonly only: readonly string[] | null;
  };
  readonly machine: MachineInfo;
  readonly redis: RedisInfo;
  readonly scenarios: ScenarioRecord[];
  /** Which raw loop is the floor ('raw-publish', 'raw-e2e') in this run. */
  readonly floors: FloorChoice[];
  readonly comparisons: Comparison[];
  readonly targets: TargetCheck[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT_DIR = path.join(here, 'results');
const CHILD_TIMEOUT_MS = 15 * 60_000;

function formatRun(r: RunResult): string {
  const c = costFigures(r);
  const head = r.latency
    ? `p50 ${r.latency.p50.toFixed(2)} ms, p99 ${r.latency.p99.toFixed(2)} ms at ${Math.round(r.rate)} ev/s`
    : r.memory
      ? `${r.memory.heraldBytesPerEvent.toFixed(0)} B/event Herald vs ${r.memory.rawBytesPerEvent.toFixed(0)} B raw`
      : `${Math.round(r.rate).toLocaleString('en-US')} ev/s`;
  return `${head} · node ${c.nodeCpuUsPerEvent.toFixed(1)} µs/ev · redis ${c.redisCpuPct.toFixed(0)}% · ${c.commandsPerEvent.toFixed(2)} cmd/ev · ${r.seconds.toFixed(1)} s`;
}

/** Runs scenarios in one child process; resolves with one outcome per scenario. */
function runChild(
  request: ChildRequest,
  options: {
    profileDir?: string | undefined;
    onMessage: (m: ChildMessage) => void;
    log: (line: string) => void;
  },
): Promise<Map<string, RunOutcome>> {
  const execArgv = ['--import', import.meta.resolve('tsx')];
  if (options.profileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.profileDir}`);
  const child = fork(path.join(here, 'child.ts'), [], {
    execArgv,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const outcomes = new Map<string, RunOutcome>();
  // Whatever a library prints goes to stderr, so stdout stays the report.
  const forward = (chunk: Buffer): void => {
    for (const line of chunk.toString('utf8').split('\n'))
      if (line.trim()) options.log(`      | ${line}`);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
    child.on('message', (m: ChildMessage) => {
      if (m.type === 'result') outcomes.set(m.id, m.result);
      else if (m.type === 'error') outcomes.set(m.id, { error: m.message });
      options.onMessage(m);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      for (const id of request.scenarios) {
        if (!outcomes.has(id))
          outcomes.set(id, {
            error: `scenario process exited (code ${String(code)}, signal ${String(signal)})`,
          });
      }
      resolve(outcomes);
    });
    child.send(request);
  });
}

/** Runs the benchmark and writes latest.json, latest.md and latest.svg to the output directory. */
export async function runBenchmark(
  options: BenchOptions = {},
): Promise<{ results: BenchResults; markdown: string }> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const quick = options.quick ?? false;
  const runs = options.runs ?? (quick ? 1 : 5);
  const events = options.events ?? (quick ? 2000 : DEFAULT_EVENTS);
  const defs = selectScenarios(options.only);
  const startedAt = new Date().toISOString();
  const machine = machineInfo();

  let server: RedisServerHandle | undefined;
  let aof: AofQuiet | undefined;
  const given = options.url ?? process.env.REDIS_URL;
  let url: string;
  if (given) {
    url = given;
  } else {
    server = await startRedisServer({
      appendonly: true,
      appendfsync: 'everysec',
      extraArgs: ['--loglevel', 'warning'],
    });
    url = server.url;
  }
  try {
    const redis = await redisInfo(url, server !== undefined);
    // Timed runs on the private server: no AOF rewrite inside a scenario (see aof-quiet.ts).
    aof = server !== undefined && !quick ? await AofQuiet.open(url) : undefined;
    log(
      `Herald benchmark: ${defs.length} scenarios × ${runs} run(s), ${events} events per run, ` +
        `Redis ${redis.version} at ${redis.url}${redis.embedded ? ' (private redis-server, AOF appendfsync everysec)' : ''}`,
    );
    if (options.profileDir) mkdirSync(options.profileDir, { recursive: true });
    const outcomes = new Map<string, RunOutcome[]>(defs.map((d) => [d.id, []]));
    const titleOf = new Map(defs.map((d, i) => [d.id, `[${i + 1}/${defs.length}] ${d.title}`]));
    // --quick runs each library's scenarios in one process (it checks shape, not speed); otherwise one process per scenario.
    // Slowest first, so the parallel --quick run ends sooner.
    const groups: ScenarioDef[][] = quick ? groupByLibrary(defs).reverse() : defs.map((d) => [d]);
    // --quick (shape, not speed) also runs three of those processes at a time.
    const parallel = quick ? 3 : 1;
    for (let run = 1; run <= runs; run++) {
      const queue = [...groups];
      const worker = async (): Promise<void> => {
        for (let group = queue.shift(); group; group = queue.shift()) {
          const result = await runChild(
            { url, scenarios: group.map((d) => d.id), events, quick },
            {
              profileDir: options.profileDir,
              log,
              onMessage: (m) => {
                const title = titleOf.get(m.id) ?? m.id;
                if (m.type === 'start') log(`${title} · run ${run}/${runs} …`);
                else if (m.type === 'progress') log(`      ${m.message}`);
                else if (m.type === 'result')
                  log(`      → ${title.replace(/ .*/, '')} ${formatRun(m.result)}`);
                else log(`      ✗ ${title.replace(/ .*/, '')} ${m.message}`);
              },
            },
          );
          for (const [id, outcome] of result) runOutcomes.set(id, outcome);
          if (await aof?.between()) log('      (AOF rewritten before the next scenario)');
        }
      };
      const runOutcomes = new Map<string, RunOutcome>();
      await Promise.all(Array.from({ length: parallel }, worker));
      for (const d of defs)
        outcomes.get(d.id)?.push(runOutcomes.get(d.id) ?? { error: 'did not run' });
    }
    const scenarios = defs.map((d) => summarize(d, outcomes.get(d.id) ?? []));
    const floors = chooseFloors(scenarios);
    const comparisons = compare(scenarios, floors);
    const results: BenchResults = {
      version: 1,
      startedAt,
      finishedAt: new Date().toISOString(),
      options: {
        quick,
        runs,
        events,
        only: options.only && options.only.length > 0 ? [...options.only] : null,
      },
      machine,
      redis: aof === undefined ? redis : { ...redis, aofRewritesBetweenScenarios: aof.rewrites },
      scenarios,
      floors,
      comparisons,
      targets: checkTargets(scenarios, comparisons),
    };
    const markdown = renderMarkdown(results);
    const outDir = options.outDir ?? DEFAULT_OUT_DIR;
    mkdirSync(outDir, { recursive: true });
    writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(path.join(outDir, 'latest.md'), markdown);
    writeFileSync(path.join(outDir, 'latest.svg'), renderChart(results));
    log(`wrote ${path.join(outDir, 'latest.json')}, latest.md and latest.svg`);
    return { results, markdown };
  } finally {
    await aof?.close();
    await server?.stop();
  }
}

function groupByLibrary(defs: readonly ScenarioDef[]): ScenarioDef[][] {
  const byLib = new Map<string, ScenarioDef[]>();
  for (const d of defs) {
    const list = byLib.get(d.library) ?? [];
    list.push(d);
    byLib.set(d.library, list);
  }
  return [...byLib.values()];
}
