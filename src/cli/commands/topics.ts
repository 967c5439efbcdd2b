import type { Command } from 'commander';
import { listTopics } from '../../ops/inspect.ts';
import { globalOptions, withBackend } from '../context.ts';
import { formatBytes, printJson, println, renderTable } from '../output.ts';

interface TopicsOptions {
  json?: boolean;
  memory: boolean;
}

/** Adds `herald topics`. */
export function registerTopicsCommand(program: Command): void {
  program
    .command('topics')
    .description('list topics: partitions, length, memory, dead letters and consumer groups')
    .option('--no-memory', 'skip MEMORY USAGE (cheaper with thousands of partitions)')
    .option('--json', 'print JSON (with per-partition figures)')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Examples:
  $ herald topics
  $ herald topics --url redis://prod-redis:6379 --prefix billing
  $ herald topics --json | jq '.[] | {name, length, deadLetters}'

Topics are found through the registry (the hash <prefix>:topics), written by every
Herald client that publishes or subscribes. Memory is MEMORY USAGE, sampled.`,
    )
    .action(async (opts: TopicsOptions, cmd: Command) => {
      const { prefix } = globalOptions(cmd);
      const topics = await withBackend(cmd, (backend) =>
        listTopics(backend.conn, prefix, { memory: opts.memory }),
      );
      if (opts.json) {
        printJson(topics);
        return;
      }
      if (topics.length === 0) {
        println(`no topics under prefix '${prefix}' (check --prefix and --url)`);
        return;
      }
      println(
        renderTable(topics, [
          { header: 'TOPIC', value: (t) => t.name },
          { header: 'PARTITIONS', value: (t) => t.partitions, align: 'right' },
          { header: 'LENGTH', value: (t) => t.length, align: 'right' },
          {
            header: 'MEMORY',
            value: (t) => (t.memoryBytes === null ? undefined : formatBytes(t.memoryBytes)),
            align: 'right',
          },
          { header: 'DEAD LETTERS', value: (t) => t.deadLetters, align: 'right' },
          {
            header: 'GROUPS',
            value: (t) => (t.groups.length > 0 ? t.groups.join(', ') : undefined),
          },
        ]),
      );
    });
}
