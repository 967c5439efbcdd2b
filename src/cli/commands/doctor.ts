import { InvalidArgumentError, type Command } from 'commander';
import { displayUrl, globalOptions, withBackend } from '../context.ts';
import { runDoctor, type CheckResult, type DoctorOptions } from '../doctor/index.ts';
import { parseDuration, printJson, println } from '../output.ts';

interface DoctorCliOptions {
  sampleInterval: number;
  stuckAfter: number;
  warnAt: number;
  failAt: number;
  json?: boolean;
}

function parsePercent(value: string): number {
  const n = Number(value.replace(/%$/, ''));
  if (!Number.isFinite(n) || n <= 0 || n > 100) {
    throw new InvalidArgumentError('expected a percentage from 1 to 100.');
  }
  return n;
}

function printHuman(header: string, results: readonly CheckResult[]): void {
  println(header);
  println();
  const width = Math.max(...results.map((r) => r.title.length));
  const indent = ' '.repeat(6);
  for (const r of results) {
    println(`${r.verdict.padEnd(4)}  ${r.title.padEnd(width)}  ${r.detail}`);
    if (!r.fix || r.verdict === 'PASS') continue;
    const { commands = [], config = [], advice } = r.fix;
    if (advice !== undefined) println(`${indent}what to do: ${advice}`);
    // Labels padded to one width, so the fixes line up.
    const label = (name: string, first: boolean): string => (first ? name : '').padEnd(12);
    commands.forEach((c, i) => println(`${indent}${label('run:', i === 0)}${c}`));
    config.forEach((c, i) => println(`${indent}${label('redis.conf:', i === 0)}${c}`));
  }
  println();
}

function summary(results: readonly CheckResult[]): { pass: number; warn: number; fail: number } {
  const count = (v: CheckResult['verdict']): number =>
    results.filter((r) => r.verdict === v).length;
  return { pass: count('PASS'), warn: count('WARN'), fail: count('FAIL') };
}

/** Adds `herald doctor`. */
export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description('check the Redis Herald uses: durability, memory, replicas, consumer groups')
    .option('--sample-interval <duration>', 'time between the two lag samples', parseDuration, 1000)
    .option(
      '--stuck-after <duration>',
      'a pending event idle longer than this is stuck; a group with events waiting and no progress for this long is stalled',
      parseDuration,
      300_000,
    )
    .option('--warn-at <percent>', 'memory use (of maxmemory) that is a warning', parsePercent, 80)
    .option('--fail-at <percent>', 'memory use (of maxmemory) that fails', parsePercent, 90)
    .option('--json', 'print the results as JSON')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Checks, each printed with PASS, WARN or FAIL and the exact fix:
  Redis version, persistence (AOF and appendfsync), maxmemory and eviction
  policy (must be noeviction), replicas and min-replicas-to-write (none is a
  WARN, so a single development node passes), memory headroom, and consumer
  groups: lag growing between two samples or unread events with no live
  consumer (WARN), no progress past --stuck-after or stuck pending events
  (FAIL), and Redis's own lag where it is wrong (Redis 7.0 after an AOF reload).

Exit code: 1 when any check FAILs, else 0.

Examples:
  $ herald doctor
  $ herald doctor --url redis://prod-redis:6379 --stuck-after 10m
  $ herald doctor --json | jq '.checks[] | select(.verdict != "PASS")'`,
    )
    .action(async (opts: DoctorCliOptions, cmd: Command) => {
      if (opts.warnAt > opts.failAt) {
        throw new InvalidArgumentError('--warn-at must not be above --fail-at');
      }
      const { url, prefix } = globalOptions(cmd);
      const doctorOptions: DoctorOptions = {
        sampleMs: opts.sampleInterval,
        stuckAfterMs: opts.stuckAfter,
        warnRatio: opts.warnAt / 100,
        failRatio: opts.failAt / 100,
      };
      const report = await withBackend(cmd, (backend) =>
        runDoctor(backend.conn, prefix, doctorOptions),
      );
      const counts = summary(report.results);
      if (opts.json) {
        printJson({
          url: displayUrl(url),
          prefix,
          redisVersion: report.redisVersion,
          ok: counts.fail === 0,
          summary: counts,
          checks: report.results,
        });
      } else {
        const version = report.redisVersion !== undefined ? ` (Redis ${report.redisVersion})` : '';
        printHuman(
          `herald doctor: ${displayUrl(url)}${version}, prefix '${prefix}'`,
          report.results,
        );
        println(`${counts.fail} FAIL, ${counts.warn} WARN, ${counts.pass} PASS`);
      }
      if (counts.fail > 0) process.exitCode = 1;
    });
}
