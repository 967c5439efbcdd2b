import { createInterface } from 'node:readline/promises';
import { InvalidArgumentError, type Command } from 'commander';
import { compactAttributes, EnvelopeField, inspectData, storedDataText } from '../../core/codec.ts';
import type { DeadLetter, DeadLetterFilter } from '../../core/contract.ts';
import { ConfigError, NotFoundError } from '../../core/errors.ts';
import type { Topic } from '../../core/topic.ts';
import type { RedisBackend } from '../../redis/backend.ts';
import { resolveTopic, withBackend } from '../context.ts';
import {
  isTooDeep,
  note,
  parsePositiveInt,
  printJson,
  println,
  renderTable,
  safeText,
  truncate,
} from '../output.ts';

interface FilterOptions {
  group?: string;
  reason?: DeadLetter['reason'];
  limit?: number;
  json?: boolean;
}

const REASONS: readonly DeadLetter['reason'][] = ['handler-failed', 'undecodable'];

function parseReason(value: string): DeadLetter['reason'] {
  const r = REASONS.find((x) => x === value);
  if (!r) throw new InvalidArgumentError(`expected one of ${REASONS.join(', ')}.`);
  return r;
}

function filterOf(opts: FilterOptions): DeadLetterFilter {
  return {
    ...(opts.group !== undefined ? { group: opts.group } : {}),
    ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
    ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
  };
}

function describeFilter(opts: FilterOptions): string {
  const parts: string[] = [];
  if (opts.group !== undefined) parts.push(`group '${opts.group}'`);
  if (opts.reason !== undefined) parts.push(`reason ${opts.reason}`);
  if (opts.limit !== undefined) parts.push(`at most ${opts.limit}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}

/** The dead letter with its payload parsed, for show and --json. */
function withData(d: DeadLetter): DeadLetter & { data: unknown } {
  return { ...d, data: inspectData(d.fields) };
}

/** The payload indented for people; one too deep to re-encode is shown as stored. */
function prettyData(d: DeadLetter & { data: unknown }): string {
  try {
    return JSON.stringify(d.data, null, 2) ?? 'undefined';
  } catch (e) {
    if (!isTooDeep(e)) throw e;
    return storedDataText(d.fields) ?? '';
  }
}

/** Dead letters as JSON; a payload too deep to re-encode is given as the stored text. */
function printLetters(letters: readonly DeadLetter[]): void {
  try {
    printJson(letters.map(withData));
  } catch (e) {
    if (!isTooDeep(e)) throw e;
    printJson(letters.map((d) => ({ ...d, data: storedDataText(d.fields) })));
  }
}

/** Adds the filter options every dlq subcommand shares. */
function withFilters(cmd: Command, limitHelp?: string): Command {
  cmd
    .option('--group <group>', 'only dead letters of this consumer group')
    .option('--reason <reason>', `only this reason: ${REASONS.join(' or ')}`, parseReason);
  if (limitHelp !== undefined) cmd.option('--limit <n>', limitHelp, parsePositiveInt);
  return cmd.option('--json', 'print JSON').configureHelp({ showGlobalOptions: true });
}

async function withTopic<T>(
  cmd: Command,
  name: string,
  fn: (backend: RedisBackend, topic: Topic) => Promise<T>,
): Promise<T> {
  return withBackend(cmd, async (backend) => fn(backend, await resolveTopic(backend, name)));
}

async function list(cmd: Command, name: string, opts: FilterOptions): Promise<void> {
  await withTopic(cmd, name, async (backend, topic) => {
    const letters = await backend.deadLetters.list(topic, filterOf(opts));
    if (opts.json) {
      printLetters(letters);
      return;
    }
    if (letters.length === 0) {
      println(`no dead letters in '${topic.name}'${describeFilter(opts)}`);
      return;
    }
    println(
      renderTable(letters, [
        { header: 'POSITION', value: (d) => d.position },
        { header: 'PART', value: (d) => d.partition, align: 'right' },
        { header: 'GROUP', value: (d) => d.group },
        { header: 'EVENT ID', value: (d) => d.eventId },
        { header: 'REASON', value: (d) => d.reason },
        { header: 'ATTEMPTS', value: (d) => d.attempts, align: 'right' },
        { header: 'DEAD-LETTERED', value: (d) => d.deadLetteredAt },
        { header: 'ERROR', value: (d) => truncate(d.error, 60) },
      ]),
    );
    println(`\n${letters.length} dead letter(s)${describeFilter(opts)}`);
  });
}

async function show(cmd: Command, name: string, ref: string, opts: FilterOptions): Promise<void> {
  await withTopic(cmd, name, async (backend, topic) => {
    const letters = await backend.deadLetters.list(topic, filterOf(opts));
    const found = letters.filter((d) => d.position === ref || d.eventId === ref);
    if (found.length === 0) {
      throw new NotFoundError(
        `no dead letter at position or with event id '${ref}' in '${topic.name}'${describeFilter(opts)}` +
          ` (${letters.length} dead letter(s) there; see herald dlq list ${topic.name})`,
      );
    }
    if (opts.json) {
      printLetters(found);
      return;
    }
    for (const d of found.map(withData)) {
      println(`dead letter ${safeText(d.position)} (partition ${d.partition})`);
      const rows: [string, string][] = [
        ['group', d.group],
        ['event id', d.eventId ?? '-'],
        ['original position', d.originalPosition],
        ['reason', d.reason],
        ['attempts', String(d.attempts)],
        ['dead-lettered at', d.deadLetteredAt],
        ['error', d.error],
      ];
      for (const [k, v] of rows) println(`  ${k.padEnd(18)} ${safeText(v)}`);
      println('  fields:');
      for (const [k, v] of Object.entries(compactAttributes(d.fields))) {
        if (k !== EnvelopeField.data) println(`    ${safeText(k)}: ${safeText(v)}`);
      }
      println('  data:');
      println(
        prettyData(d)
          .split('\n')
          .map((l) => `    ${safeText(l)}`)
          .join('\n'),
      );
    }
  });
}

/** Thrown from the progress callback to stop a replay between two dead letters. */
class ReplayInterrupted extends Error {}

/**
 * Replays with the library, one dead letter per atomic script call. Ctrl-C
 * stops between two calls (a second Ctrl-C quits at once, which is safe too:
 * each move is atomic in Redis); the exit code is then 130.
 */
async function replay(cmd: Command, name: string, opts: FilterOptions): Promise<void> {
  await withTopic(cmd, name, async (backend, topic) => {
    let interrupted = false;
    const onSignal = (): void => {
      if (interrupted) process.exit(130);
      interrupted = true;
      note('interrupt: stopping after the current dead letter (Ctrl-C again to quit now)');
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const tty = process.stderr.isTTY;
    let lastPrinted = 0;
    let done = 0;
    let total = 0;
    const progress = (final: boolean): void => {
      const text = `replayed ${done}/${total}`;
      if (tty) process.stderr.write(`\r${text}${final ? '\n' : ''}`);
      else note(text);
      lastPrinted = Date.now();
    };
    note(`replaying dead letters of '${topic.name}'${describeFilter(opts)}`);
    try {
      await backend.deadLetters.replay(topic, {
        ...filterOf(opts),
        onProgress: (d, t) => {
          done = d;
          total = t;
          // The first one, then at most a few lines a second (a TTY line is redrawn in place).
          if (d === 1 || Date.now() - lastPrinted >= (tty ? 100 : 500)) progress(false);
          if (interrupted) throw new ReplayInterrupted();
        },
      });
    } catch (e) {
      if (!(e instanceof ReplayInterrupted)) throw e;
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
    if (total > 0) progress(true);
    const left = total - done;
    if (opts.json) printJson({ topic: topic.name, replayed: done, matched: total, interrupted });
    else if (interrupted) {
      println(
        `interrupted: replayed ${done} of ${total} dead letter(s) of '${topic.name}'; ` +
          `the other ${left} are still dead letters (run the command again to replay them)`,
      );
    } else {
      println(`replayed ${done} dead letter(s) of '${topic.name}'${describeFilter(opts)}`);
    }
    if (interrupted) process.exitCode = 130;
  });
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

async function purge(
  cmd: Command,
  name: string,
  opts: FilterOptions & { yes?: boolean },
): Promise<void> {
  await withTopic(cmd, name, async (backend, topic) => {
    const filter = filterOf(opts);
    if (!opts.yes) {
      const count = (await backend.deadLetters.list(topic, filter)).length;
      if (count === 0) {
        println(`no dead letters in '${topic.name}'${describeFilter(opts)}`);
        return;
      }
      const what = `${count} dead letter(s) of '${topic.name}'${describeFilter(opts)}`;
      if (!process.stdin.isTTY) {
        throw new ConfigError(`purge would delete ${what} for good: add --yes to confirm`);
      }
      if (!(await confirm(`Delete ${what} for good?`))) {
        println('nothing purged');
        return;
      }
    }
    const purged = await backend.deadLetters.purge(topic, filter);
    if (opts.json) printJson({ topic: topic.name, purged });
    else println(`purged ${purged} dead letter(s) of '${topic.name}'${describeFilter(opts)}`);
  });
}

/** Adds `herald dlq list|show|replay|purge`. */
export function registerDlqCommand(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('inspect, replay or purge dead letters')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Examples:
  $ herald dlq list orders
  $ herald dlq show orders 1718000000000-0
  $ herald dlq replay orders --group billing
  $ herald dlq purge orders --reason undecodable --yes`,
    );

  withFilters(dlq.command('list'), 'show at most n')
    .description("list a topic's dead letters, oldest first")
    .argument('<topic>', 'topic name')
    .addHelpText(
      'after',
      `
Examples:
  $ herald dlq list orders
  $ herald dlq list orders --group billing --reason handler-failed --limit 20
  $ herald dlq list orders --json | jq '.[].error'`,
    )
    .action((name: string, opts: FilterOptions, cmd: Command) => list(cmd, name, opts));

  withFilters(dlq.command('show'))
    .description('show one dead letter in full: fields, error, payload')
    .argument('<topic>', 'topic name')
    .argument('<ref>', "the dead letter's position, or the event id")
    .addHelpText(
      'after',
      `
Examples:
  $ herald dlq show orders 1718000000000-0      # by the dead letter's position
  $ herald dlq show orders order-42-created      # by event id
  $ herald dlq show orders 1718000000000-0 --json`,
    )
    .action((name: string, ref: string, opts: FilterOptions, cmd: Command) =>
      show(cmd, name, ref, opts),
    );

  withFilters(dlq.command('replay'), 'replay at most n')
    .description('put dead letters back on their partition, for their group only')
    .argument('<topic>', 'topic name')
    .addHelpText(
      'after',
      `
Examples:
  $ herald dlq replay orders                       # every dead letter of the topic
  $ herald dlq replay orders --group billing --limit 100

Each dead letter is moved back by one atomic Redis script (added to the stream,
removed from the dead letters), so Ctrl-C is safe: nothing is duplicated or
lost, and running the command again replays the rest. Exit code 130 when interrupted.`,
    )
    .action((name: string, opts: FilterOptions, cmd: Command) => replay(cmd, name, opts));

  withFilters(dlq.command('purge'), 'purge at most n (oldest first)')
    .description('delete dead letters for good')
    .argument('<topic>', 'topic name')
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .addHelpText(
      'after',
      `
Examples:
  $ herald dlq purge orders                        # asks before deleting
  $ herald dlq purge orders --group billing --yes
  $ herald dlq purge orders --reason undecodable --limit 100 --yes`,
    )
    .action((name: string, opts: FilterOptions & { yes?: boolean }, cmd: Command) =>
      purge(cmd, name, opts),
    );
}
