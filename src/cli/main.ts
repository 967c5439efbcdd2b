/**
 * The `herald` CLI. Each command lives in its own file under ./commands and exports a
 * function that adds it to the program; list it in `commands` below.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerAclCommand } from './commands/acl.ts';
import { registerBench } from './commands/bench.ts';
import { registerConsoleCommand } from './commands/console.ts';
import { registerDevCommand } from './commands/dev.ts';
import { registerDlqCommand } from './commands/dlq.ts';
import { registerDoctorCommand } from './commands/doctor.ts';
import { registerExporterCommand } from './commands/exporter.ts';
import { registerGroupsCommand } from './commands/groups.ts';
import { registerGroupsAdminCommands } from './commands/groups-admin.ts';
import { registerPublishCommand } from './commands/publish.ts';
import { registerSetupCommand } from './commands/setup.ts';
import { registerQueuesCommand } from './commands/queues.ts';
import { registerTailCommand } from './commands/tail.ts';
import { registerTopicsCommand } from './commands/topics.ts';
import { registerTrimCommand } from './commands/trim.ts';
import { addTlsOptions, printableError } from './context.ts';

export type RegisterCommand = (program: Command) => void;

/** All subcommands, in help order. */
export const commands: RegisterCommand[] = [
  registerDevCommand,
  registerSetupCommand,
  registerAclCommand,
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

/** The package's version (package.json is two folders up from src/cli and from dist/cli alike). */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? 'unknown';
}

export function buildProgram(): Command {
  const program = new Command('herald')
    .description('Herald: asynchronous messaging for microservices on Redis')
    .showHelpAfterError('(run with --help for usage)')
    // Global options: every command that talks to Redis reads them (see context.ts).
    .option('--url <url>', 'Redis URL (default: $REDIS_URL, else redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'prefix of Herald keys', 'herald');
  addTlsOptions(program);
  program.version(packageVersion(), '-V, --version', 'print the version');
  program.addHelpText(
    'after',
    `
Examples:
  $ herald dev                 # local Redis with AOF, data in ./.herald/redis
  $ herald dev --port 0        # same, on a free port
  $ herald topics --url redis://127.0.0.1:6390
  $ herald groups orders       # lag, pending, consumers (REDIS_URL or --url)
  $ herald doctor              # is this Redis fit for Herald?
  $ herald doctor --url rediss://:PASSWORD@redis:6380 --tls-ca ca.crt --tls-cert client.crt --tls-key client.key
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
    // Never the password of a URL, even in a stack trace (see printableError).
    console.error(printableError(err, argv, process.env.HERALD_DEBUG === '1'));
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
