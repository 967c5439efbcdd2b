/**
 * The `herald` CLI. Each command lives in its own file under ./commands and exports a
 * function that adds it to the program; list it in `commands` below.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerBench } from './commands/bench.ts';
import { registerConsoleCommand } from './commands/console.ts';
import { registerDevCommand } from './commands/dev.ts';
import { registerDlqCommand } from './commands/dlq.ts';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerExporterCommand } from './commands/exporter.ts';
import { registerGroupsCommand } from './commands/groups.ts';
import { registerGroupsAdminCommands } from './commands/groups-admin.ts';
import { registerPublishCommand } from './commands/publish.ts';
import { registerQueuesCommand } from './commands/queues.ts';
import { registerTailCommand } from './commands/tail.ts';
import { registerTopicsCommand } from './commands/topics.ts';
import { registerTrimCommand } from './commands/trim.ts';

export type RegisterCommand = (program: Command) => void;

/** All subcommands, in help order. */
export const commands: RegisterCommand[] = [
  registerDevCommand,
  registerTopicsCommand,
  registerGroupsCommand,
  registerGroupsAdminCommands,
  registerPublishCommand,
  registerTailCommand,
  registerDlqCommand,
  registerQueuesCommand,
  registerTrimCommand,
  registerDoctorCommand,
  registerExporterCommand,
  registerConsoleCommand,
  registerBench,
];

export function buildProgram(): Command {
  const program = new Command('herald')
    .description('Herald: asynchronous messaging for microservices on Redis')
    .showHelpAfterError('(run with --help for usage)')
    // Global options: every command that talks to Redis reads them (see context.ts).
    .option('--url <url>', 'Redis URL (default: $REDIS_URL, else redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'prefix of Herald keys', 'herald');
  program.addHelpText(
    'after',
    `
Examples:
  $ herald dev                 # local Redis with AOF, data in ./.herald/redis
  $ herald dev --port 0        # same, on a free port
  $ herald topics --url redis://127.0.0.1:6390
  $ herald groups orders       # lag, pending, consumers (REDIS_URL or --url)
  $ herald doctor              # is this Redis fit for Herald?
  $ herald help dev            # help for one command

Set HERALD_DEBUG=1 to print stack traces on errors.`,
  );
  for (const register of commands) register(program);
  return program;
}

/** Parse argv and run; errors become one line on stderr and exit code 1. */
export async function runCli(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync([...argv]);
  } catch (err) {
    if (process.env.HERALD_DEBUG === '1') {
      console.error(err);
    } else {
      const message = err instanceof Error ? err.message : String(err);
      console.error(`herald: ${message.split('\n')[0] ?? message}`);
    }
    process.exitCode = 1;
  }
}

function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

// `node --import tsx src/cli/main.ts ...` runs directly; bin/herald.mjs calls runCli().
if (isEntryPoint()) await runCli();
