import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { ConfigError, ValidationError } from '../../core/errors.ts';
import type { OutgoingEvent, PublishReceipt } from '../../core/event.ts';
import { defineTopic, type Topic } from '../../core/topic.ts';
import type { RedisBackend } from '../../redis/backend.ts';
import { readTopicRecords, topicOfRecord } from '../../ops/inspect.ts';
import { resolveTopic, withBackend } from '../context.ts';
import { note, parsePositiveInt, printJsonLine, println } from '../output.ts';

interface PublishOptions {
  json?: boolean;
  type?: string;
  key?: string;
  id?: string;
  subject?: string;
  header: string[];
  event?: boolean;
  create?: boolean;
  partitions?: number;
  batch: number;
}

/** Attributes an `--event` line may carry besides `data`. */
const EVENT_ATTRIBUTES = [
  'type',
  'id',
  'key',
  'source',
  'subject',
  'time',
  'headers',
  'traceparent',
] as const;

function collectHeader(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseHeaders(list: readonly string[]): Record<string, string> | undefined {
  if (list.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const h of list) {
    const eq = h.indexOf('=');
    if (eq <= 0) throw new ConfigError(`--header '${h}' is not name=value`);
    out[h.slice(0, eq)] = h.slice(eq + 1);
  }
  return out;
}

/** Turns one JSON text into an event: the payload, or with --event a whole event object. */
function toEvent(text: string, where: string, opts: PublishOptions): OutgoingEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`${where} is not valid JSON (${(e as Error).message})`);
  }
  const defaults: Record<string, unknown> = {};
  if (opts.type !== undefined) defaults.type = opts.type;
  if (opts.key !== undefined) defaults.key = opts.key;
  if (opts.id !== undefined) defaults.id = opts.id;
  if (opts.subject !== undefined) defaults.subject = opts.subject;
  const headers = parseHeaders(opts.header);
  if (headers !== undefined) defaults.headers = headers;
  if (!opts.event) return { ...defaults, data: parsed };

  if (
    parsed === null ||
    typeof parsed !== 'object' ||
    Array.isArray(parsed) ||
    !('data' in parsed)
  ) {
    throw new ValidationError(`${where}: with --event each JSON must be an object with "data"`);
  }
  const event: Record<string, unknown> = { ...defaults, data: parsed.data };
  for (const attr of EVENT_ATTRIBUTES) {
    const v = (parsed as Record<string, unknown>)[attr];
    if (v !== undefined && v !== null) event[attr] = v;
  }
  return event as unknown as OutgoingEvent;
}

async function topicFor(backend: RedisBackend, name: string, opts: PublishOptions): Promise<Topic> {
  if (opts.partitions !== undefined && !opts.create) {
    throw new ConfigError(
      '--partitions only applies with --create (a topic keeps the partitions it has)',
    );
  }
  if (!opts.create) return resolveTopic(backend, name);
  const record = (await readTopicRecords(backend.conn, backend.prefix)).find(
    (r) => r.name === name,
  );
  // An existing topic keeps its declaration; publishing checks that --partitions agrees.
  if (record && opts.partitions === undefined) return topicOfRecord(record);
  return defineTopic({ name, partitions: opts.partitions ?? 1 });
}

function printReceipt(r: PublishReceipt, topic: string, json: boolean): void {
  if (json) {
    printJsonLine(r);
    return;
  }
  const dup = r.duplicate ? ' (duplicate: already stored, nothing written)' : '';
  println(
    `published ${r.id} to '${topic}' (partition ${r.partition}, position ${r.position})${dup}`,
  );
}

/** Reads stdin line by line and publishes in batches; a bad line stops after what came before it. */
async function publishStdin(
  backend: RedisBackend,
  topic: Topic,
  opts: PublishOptions,
): Promise<void> {
  if (opts.id !== undefined) {
    throw new ConfigError(
      '--id names one event; with stdin put an "id" in each line and use --event',
    );
  }
  if (process.stdin.isTTY) note('reading events from stdin, one JSON per line (Ctrl-D to end)');
  let published = 0;
  let duplicates = 0;
  let batch: OutgoingEvent[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const receipts = await backend.publishBatch(topic, batch);
    batch = [];
    for (const r of receipts) {
      published++;
      if (r.duplicate) duplicates++;
      if (opts.json) printJsonLine(r);
    }
  };
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      let event: OutgoingEvent;
      try {
        event = toEvent(line, `line ${lineNo}`, opts);
      } catch (e) {
        await flush();
        const before =
          published === 1
            ? '1 event before it was published'
            : `${published} events before it were published`;
        throw new ValidationError(`${(e as Error).message}; ${before}`, [], { cause: e });
      }
      batch.push(event);
      if (batch.length >= opts.batch) await flush();
    }
    await flush();
  } finally {
    lines.close();
  }
  if (!opts.json) {
    const dup = duplicates > 0 ? ` (${duplicates} duplicate(s) not written again)` : '';
    println(`published ${published} event(s) to '${topic.name}'${dup}`);
  }
}

/** Adds `herald publish`. */
export function registerPublishCommand(program: Command): void {
  program
    .command('publish')
    .description('publish an event (JSON payload), or one per line from stdin')
    .argument('<topic>', 'topic name')
    .argument('[json]', "the event's data as JSON; omit (or '-') to read lines from stdin")
    .option('--type <type>', 'CloudEvents type (default: the topic name)')
    .option('--key <key>', 'partition key: events with the same key keep their order')
    .option('--id <id>', 'event id: publishing the same id again is deduplicated')
    .option('--subject <subject>', 'CloudEvents subject')
    .option('--header <name=value>', 'a header to carry (repeatable)', collectHeader, [])
    .option(
      '--event',
      'the JSON is a whole event {data, type, id, key, headers, ...}, not only data',
    )
    .option('--create', 'register the topic if it does not exist yet')
    .option(
      '--partitions <n>',
      'partitions of a topic created with --create (default 1)',
      parsePositiveInt,
    )
    .option('--batch <n>', 'events per round trip when reading stdin', parsePositiveInt, 100)
    .option('--json', 'print each receipt as a JSON line')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Examples:
  $ herald publish orders '{"orderId":"o-1","total":42}'
  $ herald publish orders '{"orderId":"o-1"}' --type order.created --key o-1 --id o-1-created
  $ cat events.ndjson | herald publish orders            # one JSON payload per line
  $ herald tail orders --json | herald publish orders-copy --event --create
  $ herald publish orders '{"n":1}' --json               # {"id":...,"partition":0,"position":...}`,
    )
    .action(async (name: string, json: string | undefined, opts: PublishOptions, cmd: Command) => {
      await withBackend(cmd, async (backend) => {
        const topic = await topicFor(backend, name, opts);
        if (json === undefined || json === '-') {
          await publishStdin(backend, topic, opts);
          return;
        }
        const receipt = await backend.publish(topic, toEvent(json, 'the event', opts));
        printReceipt(receipt, topic.name, opts.json === true);
      });
    });
}
