import { InvalidArgumentError, type Command } from 'commander';
import { PermissionError } from '../../core/errors.ts';
import { defineTopic, MAX_PARTITIONS, type TopicCodec } from '../../core/topic.ts';
import { listTopics } from '../../ops/inspect.ts';
import { declareTopic, markRegistryProblemsReported, readRegistry } from '../../redis/registry.ts';
import { globalOptions, withBackend } from '../context.ts';
import { formatBytes, note, parsePositiveInt, printJson, println, renderTable } from '../output.ts';

interface CreateOptions {
  partitions: number;
  streamKey?: string;
  codec?: TopicCodec;
  replace?: boolean;
}

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

  $ herald topics create orders --partitions 8

Topics are found through the registry (the hash <prefix>:topics): declared by an
administrator (herald topics create) or by a client at first use when its user may
write the registry. Records that are malformed are reported and skipped. Memory is
MEMORY USAGE, sampled.`,
    )
    .action(async (opts: TopicsOptions, cmd: Command) => {
      const { prefix } = globalOptions(cmd);
      const topics = await withBackend(cmd, async (backend) => {
        const { problems } = await readRegistry(backend.conn, prefix);
        for (const p of problems) {
          note(
            `warning: registry record '${p.field}' skipped (${p.reason}); ` +
              `rewrite it with herald topics create ${p.field} --replace`,
          );
        }
        markRegistryProblemsReported(problems);
        return listTopics(backend.conn, prefix, { memory: opts.memory });
      });
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
  registerTopicsCreate(program);
}

/** `herald topics create`: an administrator declares a topic in the registry. */
function registerTopicsCreate(program: Command): void {
  const topics = program.commands.find((c) => c.name() === 'topics');
  if (topics === undefined) return;
  topics
    .command('create')
    .description('declare a topic in the registry (an administrator; services only read it)')
    .argument('<name>', 'topic name')
    .option('--partitions <n>', `number of partitions, 1 to ${MAX_PARTITIONS}`, parsePositiveInt, 1)
    .option(
      '--stream-key <key>',
      "bind the topic to this existing stream key (another program's stream; 1 partition)",
    )
    .option('--codec <codec>', "'envelope' (Herald events) or 'raw' (foreign entries)")
    .option('--replace', 'overwrite a different or malformed record of that name')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Services' users may only read the registry (see herald acl), so an administrator
declares each topic once. Binding a topic to a foreign stream key is an
administrator's decision: herald trim refuses such a topic without --foreign-stream.

Examples:
  $ herald topics create orders --partitions 8
  $ herald topics create book-recommendations --stream-key recs --codec raw
  $ herald topics create orders --partitions 8 --replace   # fix a squatted record`,
    )
    .action(async (name: string, opts: CreateOptions, cmd: Command) => {
      if (opts.codec !== undefined && opts.codec !== 'envelope' && opts.codec !== 'raw') {
        throw new InvalidArgumentError(
          `--codec is 'envelope' or 'raw', not '${String(opts.codec)}'`,
        );
      }
      const topic = defineTopic({
        name,
        partitions: opts.partitions,
        ...(opts.streamKey !== undefined ? { streamKey: opts.streamKey } : {}),
        ...(opts.codec !== undefined ? { codec: opts.codec } : {}),
      });
      const { prefix } = globalOptions(cmd);
      const outcome = await withBackend(cmd, async (backend) => {
        try {
          return await declareTopic(backend.conn, prefix, topic, {
            replace: opts.replace === true,
          });
        } catch (e) {
          if (e instanceof PermissionError) {
            throw new PermissionError(
              `herald topics create: this user may not write the registry (${e.message}); ` +
                'use an administrator URL',
              { command: e.command, key: e.key, cause: e },
            );
          }
          throw e;
        }
      });
      const what = `${topic.partitions} partition(s)${topic.streamKey !== undefined ? ` on stream '${topic.streamKey}'` : ''}`;
      const said = { created: 'declared', exists: 'already declared', replaced: 'replaced' }[
        outcome
      ];
      println(`topic '${topic.name}' ${said} with ${what}`);
    });
}
