/**
 * `npm run bench`: Herald against the raw node-redis loop, BullMQ and
 * redis-smq, in one run against one Redis. Progress on stderr, the Markdown
 * report on stdout, JSON + Markdown + SVG in bench/results/.
 *
 *   npm run bench                         # private redis-server (AOF everysec), 5 passes (~30 min)
 *   npm run bench -- --quick              # seconds: checks everything works
 *   npm run bench -- --only 'herald-e2e*' --runs 5
 *   REDIS_URL=redis://host:6379 npm run bench
 */
import { parseArgs } from 'node:util';
import { errorMessage } from '../src/index.ts';
import { runBenchmark } from './runner.ts';
import { SCENARIOS } from './catalogue.ts';

const HELP = `usage: npm run bench -- [options]

  --quick            small counts, one run (checks that everything works)
  --runs N           round-robin passes (default 5; --quick 1)
  --events N         events per throughput run (default 200000; rows no target compares run a quarter, slow peers fewer)
  --only IDS         comma-separated scenario ids, or a prefix ending in * (e.g. 'herald-*')
  --url URL          Redis to use (default REDIS_URL, else a private redis-server)
  --out DIR          where latest.json/.md/.svg go (default bench/results)
  --profile DIR      write V8 CPU profiles of the scenario processes (node --cpu-prof)
  --list             list the scenarios

Scenarios write keys containing a random token and delete them afterwards.`;

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--${name} must be a positive integer, got '${value}'`);
  return n;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      runs: { type: 'string' },
      events: { type: 'string' },
      only: { type: 'string', multiple: true },
      url: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'string' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  if (values.list) {
    for (const s of SCENARIOS) console.log(`${s.id.padEnd(24)} ${s.title}`);
    return;
  }
  const { markdown, results } = await runBenchmark({
    quick: values.quick ?? false,
    runs: positiveInt('runs', values.runs),
    events: positiveInt('events', values.events),
    only: values.only,
    url: values.url,
    outDir: values.out,
    profileDir: values.profile,
  });
  process.stdout.write(markdown);
  const failed = results.scenarios.filter((s) => s.runs.some((r) => 'error' in r));
  if (failed.length > 0) {
    process.stderr.write(`failed: ${failed.map((s) => s.id).join(', ')}\n`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${errorMessage(e)}\n`);
  process.exitCode = 1;
});
