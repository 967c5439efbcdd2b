/**
 * `herald groups reset` and `herald groups delete`: subcommands of `herald groups`
 * (which shows the groups), on the shared operations of src/ops/group-admin.ts.
 */
import { InvalidArgumentError, type Command } from 'commander';
import {
  deleteGroup,
  previewGroupReset,
  resetGroup,
  type GroupResetPlan,
} from '../../ops/group-admin.ts';
import { parseStreamTarget, type StreamTarget } from '../../ops/stream-ids.ts';
import { confirmed } from '../confirm.ts';
import { resolveTopic, withBackend } from '../context.ts';
import { parseNonNegativeInt, printJson, println, renderTable } from '../output.ts';

interface ResetOptions {
  to: StreamTarget;
  partition?: number;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
}

/** `--json` given after the subcommand may land on the parent (`herald groups` has it too). */
export function wantsJson(cmd: Command, own: boolean | undefined): boolean {
  return own === true || cmd.optsWithGlobals<{ json?: boolean }>().json === true;
}

function parseTarget(value: string): StreamTarget {
  try {
    return parseStreamTarget(value);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
}

/** "replays 15 events" / "skips 10 events" / "changes nothing", with "at least" when counting stopped early. */
export function describePlan(plan: GroupResetPlan): string {
  const atLeast = plan.exact ? '' : 'at least ';
  const parts: string[] = [];
  if (plan.replays > 0) parts.push(`replays ${atLeast}${plan.replays} event(s)`);
  if (plan.skips > 0) parts.push(`skips ${atLeast}${plan.skips} event(s)`);
  return parts.length > 0 ? parts.join(' and ') : 'changes nothing';
}

function printPlan(plan: GroupResetPlan): void {
  println(
    renderTable(plan.partitions, [
      { header: 'PART', value: (p) => p.partition, align: 'right' },
      { header: 'FROM', value: (p) => p.from },
      { header: 'TO', value: (p) => p.to },
      { header: 'REPLAYS', value: (p) => p.replays, align: 'right' },
      { header: 'SKIPS', value: (p) => p.skips, align: 'right' },
      { header: 'PENDING (KEPT)', value: (p) => p.pending, align: 'right' },
    ]),
  );
}

async function reset(cmd: Command, name: string, group: string, opts: ResetOptions): Promise<void> {
  opts.json = wantsJson(cmd, opts.json);
  await withBackend(cmd, async (backend) => {
    const topic = await resolveTopic(backend, name);
    const options = opts.partition !== undefined ? { partition: opts.partition } : {};
    const plan = await previewGroupReset(
      backend.conn,
      backend.prefix,
      topic,
      group,
      opts.to,
      options,
    );
    const summary = `resetting '${group}' on '${topic.name}' ${describePlan(plan)}`;
    if (opts.dryRun) {
      if (opts.json) printJson({ ...plan, applied: false });
      else {
        printPlan(plan);
        println(`\ndry run: ${summary}; nothing changed`);
      }
      return;
    }
    if (!opts.json) printPlan(plan);
    if (
      !(await confirmed(
        `reset group '${group}' of '${topic.name}' (${describePlan(plan)})`,
        opts.yes,
      ))
    ) {
      println('nothing changed');
      return;
    }
    const done = await resetGroup(backend.conn, backend.prefix, topic, group, opts.to, options);
    if (opts.json) printJson({ ...done, applied: true });
    else println(`\nreset '${group}' on '${topic.name}': ${describePlan(done)}`);
  });
}

async function remove(
  cmd: Command,
  name: string,
  group: string,
  opts: { yes?: boolean; json?: boolean },
): Promise<void> {
  opts.json = wantsJson(cmd, opts.json);
  await withBackend(cmd, async (backend) => {
    const topic = await resolveTopic(backend, name);
    if (
      !(await confirmed(
        `delete group '${group}' of '${topic.name}' and forget what it holds`,
        opts.yes,
      ))
    ) {
      println('nothing changed');
      return;
    }
    const d = await deleteGroup(backend.conn, backend.prefix, topic, group);
    if (opts.json) printJson(d);
    else
      println(
        `deleted group '${group}' of '${topic.name}' from ${d.partitions} partition(s); ` +
          `${d.pendingDropped} pending event(s) forgotten (they stay in the stream)`,
      );
  });
}

/** Adds `herald groups reset` and `herald groups delete` under `herald groups`. */
export function registerGroupsAdminCommands(program: Command): void {
  const groups = program.commands.find((c) => c.name() === 'groups');
  if (!groups) throw new Error('register `herald groups` before its subcommands');
  groups.usage('[options] <topic>\n       herald groups reset|delete <topic> <group> [options]');
  groups
    .command('reset')
    .description('move a consumer group to a position or time (shows what it replays or skips)')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'consumer group')
    .requiredOption(
      '--to <where>',
      'beginning, end, a position (1718000000000-0) or a time (2026-12-06T04:00:00Z)',
      parseTarget,
    )
    .option('--partition <n>', 'only this partition', parseNonNegativeInt)
    .option('--dry-run', 'only show how many events it would replay or skip')
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print JSON')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
The group next reads the first event at or after the position or time; events
it holds (pending) stay pending. Lag stays exact afterwards.

Examples:
  $ herald groups reset orders billing --to 2026-12-06T04:00:00Z --dry-run
  $ herald groups reset orders billing --to 1718000000000-0 --yes
  $ herald groups reset orders audit --to end --yes        # skip the backlog`,
    )
    .action((name: string, group: string, opts: ResetOptions, cmd: Command) =>
      reset(cmd, name, group, opts),
    );
  groups
    .command('delete')
    .description('delete a consumer group from every partition of a topic')
    .argument('<topic>', 'topic name')
    .argument('<group>', 'consumer group')
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print JSON')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Its pending events are forgotten (the events stay in the stream). Consumers still
running recreate the group when they next start.

Examples:
  $ herald groups delete orders old-reporting
  $ herald groups delete orders old-reporting --yes --json`,
    )
    .action((name: string, group: string, opts: { yes?: boolean; json?: boolean }, cmd: Command) =>
      remove(cmd, name, group, opts),
    );
}
