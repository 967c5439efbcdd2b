/** `herald queues`: work queues' pending/processing/dead counts; list, retry and purge dead items. */
import type { Command } from 'commander';
import {
  listDeadItems,
  listQueues,
  purgeDeadItems,
  retryDeadItems,
} from '../../ops/queue-admin.ts';
import { confirmed } from '../confirm.ts';
import { wantsJson } from './groups-admin.ts';
import { withBackend } from '../context.ts';
import { parsePositiveInt, printJson, println, renderTable, truncate } from '../output.ts';

interface ItemOptions {
  id?: string[];
  yes?: boolean;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
const which = (opts: ItemOptions): string =>
  opts.id ? `${opts.id.length} selected dead item(s)` : 'every dead item';

/** Adds `herald queues [list|dead|retry|purge]`. */
export function registerQueuesCommand(program: Command): void {
  const queues = program
    .command('queues')
    .description('work queues: pending, processing and dead items; retry or purge dead items')
    .option('--json', 'print JSON')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Examples:
  $ herald queues                         # every queue with its counts
  $ herald queues dead emails --limit 20
  $ herald queues retry emails            # every dead item back to pending
  $ herald queues retry emails --id 3f2a… --id 9b1c…
  $ herald queues purge emails --yes`,
    )
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      await withBackend(cmd, async (backend) => {
        const list = await listQueues(backend.conn, backend.prefix);
        if (opts.json) printJson(list);
        else if (list.length === 0) println(`no work queues under prefix '${backend.prefix}'`);
        else
          println(
            renderTable(list, [
              { header: 'QUEUE', value: (q) => q.name },
              { header: 'PENDING', value: (q) => q.pending, align: 'right' },
              { header: 'PROCESSING', value: (q) => q.processing, align: 'right' },
              { header: 'DEAD', value: (q) => q.dead, align: 'right' },
            ]),
          );
      });
    });

  queues
    .command('dead')
    .description("list a queue's dead items, oldest first")
    .argument('<queue>', 'queue name')
    .option('--limit <n>', 'show at most n', parsePositiveInt)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ herald queues dead emails\n  $ herald queues dead emails --limit 20 --json',
    )
    .action(async (name: string, opts: { limit?: number; json?: boolean }, cmd: Command) => {
      await withBackend(cmd, async (backend) => {
        const items = await listDeadItems(backend.conn, backend.prefix, name, opts.limit);
        if (wantsJson(cmd, opts.json)) printJson(items);
        else if (items.length === 0) println(`no dead items in queue '${name}'`);
        else
          println(
            renderTable(items, [
              { header: 'ID', value: (d) => d.id },
              { header: 'ATTEMPTS', value: (d) => d.attempts, align: 'right' },
              { header: 'REASON', value: (d) => d.reason },
              { header: 'DEAD SINCE', value: (d) => d.deadLetteredAt },
              { header: 'ERROR', value: (d) => truncate(d.error, 50) },
              { header: 'DATA', value: (d) => truncate(JSON.stringify(d.data), 40) },
            ]),
          );
      });
    });

  queues
    .command('retry')
    .description('put dead items back on the queue with their attempts reset')
    .argument('<queue>', 'queue name')
    .option('--id <id>', 'only this item (repeat for several)', collect)
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ herald queues retry emails\n  $ herald queues retry emails --id 3f2a9c… --id 9b1c07…',
    )
    .action(async (name: string, opts: ItemOptions, cmd: Command) => {
      await withBackend(cmd, async (backend) => {
        const retried = await retryDeadItems(
          backend.conn,
          backend.prefix,
          name,
          opts.id ? { ids: opts.id } : {},
        );
        if (wantsJson(cmd, opts.json)) printJson({ queue: name, retried });
        else println(`retried ${retried} dead item(s) of queue '${name}'`);
      });
    });

  queues
    .command('purge')
    .description('delete dead items for good')
    .argument('<queue>', 'queue name')
    .option('--id <id>', 'only this item (repeat for several)', collect)
    .option('--yes', 'do not ask for confirmation (required when stdin is not a terminal)')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ herald queues purge emails\n  $ herald queues purge emails --id 3f2a9c… --yes',
    )
    .action(async (name: string, opts: ItemOptions, cmd: Command) => {
      await withBackend(cmd, async (backend) => {
        if (!(await confirmed(`delete ${which(opts)} of queue '${name}' for good`, opts.yes))) {
          println('nothing purged');
          return;
        }
        const purged = await purgeDeadItems(
          backend.conn,
          backend.prefix,
          name,
          opts.id ? { ids: opts.id } : {},
        );
        if (wantsJson(cmd, opts.json)) printJson({ queue: name, purged });
        else println(`purged ${purged} dead item(s) of queue '${name}'`);
      });
    });
}
