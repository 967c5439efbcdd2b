import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { ConfigError } from '../../core/errors.ts';
import { displayUrl, globalOptions } from '../context.ts';
import { note, parsePositiveInt, println } from '../output.ts';

interface BenchCliOptions {
  quick?: boolean;
  runs?: number;
  events?: number;
  only?: string[];
  out: string;
  profile?: string;
}

/** What `herald bench` needs of bench/runner.ts (loaded by path: the package does not ship bench/). */
interface BenchRunner {
  runBenchmark: (options: {
    url: string | undefined;
    quick: boolean;
    runs: number | undefined;
    events: number | undefined;
    only: string[] | undefined;
    outDir: string;
    profileDir: string | undefined;
  }) => Promise<{
    markdown: string;
    results: { scenarios: { id: string; runs: readonly object[] }[] };
  }>;
}

/** The benchmark lives in the repository, not in the installed package: say so instead of a stack trace. */
async function loadRunner(): Promise<BenchRunner> {
  const runner = new URL('../../../bench/runner.ts', import.meta.url);
  if (!existsSync(fileURLToPath(runner))) {
    throw new ConfigError(
      'herald bench runs from a clone of the Herald repository (the benchmark and its peers, BullMQ and ' +
        'redis-smq, are not part of the installed package): clone it, then `npm run bench -- --url …`',
    );
  }
  return (await import(runner.href)) as BenchRunner;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Adds `herald bench`: the benchmark of bench/ against the user's Redis. */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure Herald against the raw client loop, BullMQ and redis-smq on your Redis')
    .option('--quick', 'small counts, one run: checks that everything works (seconds)')
    .option('--runs <n>', 'round-robin passes (default 5; --quick 1)', parsePositiveInt)
    .option(
      '--events <n>',
      'events per throughput run (default 50000; peers run a fraction)',
      parsePositiveInt,
    )
    .option(
      '--only <ids>',
      "scenario ids, comma-separated, or a prefix ending in * (e.g. 'herald-*'); repeatable",
      collect,
    )
    .option('--out <dir>', 'where latest.json, latest.md and latest.svg go', 'bench-results')
    .option('--profile <dir>', 'write V8 CPU profiles of the scenario processes (node --cpu-prof)')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Runs every scenario in a child process of its own, several times, against one
Redis; prints a Markdown report and writes JSON, Markdown and an SVG chart.
Without --url or REDIS_URL it starts a private redis-server (AOF, everysec).

On your own Redis it writes keys that contain a random token and deletes them
afterwards (redis-smq's through its own API). Redis CPU figures come from
INFO and include every other client of that Redis. BullMQ and redis-smq
scenarios need the dev dependencies (npm install in the Herald repository).

Examples:
  $ herald bench --quick                               # a private redis-server, seconds
  $ herald bench --url redis://10.0.0.5:6379 --runs 5
  $ herald bench --only 'herald-e2e*,raw-e2e-*' --events 200000`,
    )
    .action(async (opts: BenchCliOptions, cmd: Command) => {
      const { url } = globalOptions(cmd);
      // Loaded on use: the benchmark pulls in its scenarios only when asked for.
      const { runBenchmark } = await loadRunner();
      if (url !== undefined) note(`benchmarking ${displayUrl(url)}`);
      const { markdown, results } = await runBenchmark({
        url,
        quick: opts.quick === true,
        runs: opts.runs,
        events: opts.events,
        only: opts.only,
        outDir: path.resolve(opts.out),
        profileDir: opts.profile,
      });
      println(markdown);
      const failed = results.scenarios.filter((s) => s.runs.some((r) => 'error' in r));
      if (failed.length > 0) {
        throw new Error(`scenarios failed: ${failed.map((s) => s.id).join(', ')} (details above)`);
      }
    });
}
