import { InvalidArgumentError, type Command } from 'commander';
import { errorMessage } from '../../core/error-text.ts';
import { ConfigError, ErrorCode, HeraldError, ValidationError } from '../../core/errors.ts';
import type { OutgoingEvent, PublishReceipt } from '../../core/event.ts';
import { defineTopic, type EnvelopeLayout, type Topic } from '../../core/topic.ts';
import type { RedisBackend } from '../../redis/backend.ts';
import { readTopicRecords, topicOfRecord } from '../../ops/inspect.ts';
import { resolveTopic, withBackend } from '../context.ts';
import { note, parsePositiveInt, printJsonLine, println, safeText } from '../output.ts';
import { lineRanges, publishLines } from './publish-stdin.ts';

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
  lineIds: boolean;
  inputName: string;
  fromLine?: number;
  skipInvalid?: boolean;
  envelopeLayout?: EnvelopeLayout;
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
    throw new ValidationError(`${where} is not valid JSON (${errorMessage(e)})`);
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
    throw new ValidationError(`${where} must be a JSON object with "data" (--event)`);
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
  return withLayout(await declaredTopic(backend, name, opts), opts.envelopeLayout);
}

async function declaredTopic(
  backend: RedisBackend,
  name: string,
  opts: PublishOptions,
): Promise<Topic> {
  if (!opts.create) return resolveTopic(backend, name);
  const record = (await readTopicRecords(backend.conn, backend.prefix)).find(
    (r) => r.name === name,
  );
  // An existing topic keeps its declaration; publishing checks that --partitions agrees.
  if (record && opts.partitions === undefined) return topicOfRecord(record);
  return defineTopic({ name, partitions: opts.partitions ?? 1 });
}

/** The topic writing the layout asked for (the registry does not record layouts: readers read both). */
function withLayout(topic: Topic, layout: EnvelopeLayout | undefined): Topic {
  if (layout === undefined || layout === topic.envelopeLayout) return topic;
  return defineTopic({
    name: topic.name,
    partitions: topic.partitions,
    codec: topic.codec,
    envelopeLayout: layout,
    ...(topic.streamKey !== undefined ? { streamKey: topic.streamKey } : {}),
  });
}

function parseLayout(value: string): EnvelopeLayout {
  if (value === 'compact' || value === 'fields') return value;
  throw new InvalidArgumentError("must be 'compact' or 'fields'");
}

function printReceipt(r: PublishReceipt, topic: string, json: boolean): void {
  if (json) {
    printJsonLine(r);
    return;
  }
  const dup = r.duplicate ? ' (duplicate: already stored, nothing written)' : '';
  println(
    `published ${safeText(r.id)} to '${topic}' (partition ${r.partition}, position ${r.position})${dup}`,
  );
}

/** Reads stdin line by line and publishes in batches, reporting each line's outcome. */
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
  const { stopped, notStored } = await publishLines(
    backend,
    topic,
    process.stdin,
    {
      json: opts.json === true,
      batch: opts.batch,
      lineIds: opts.lineIds,
      inputName: opts.inputName,
      fromLine: opts.fromLine ?? 1,
      skipInvalid: opts.skipInvalid === true,
    },
    (text, where) => toEvent(text, where, opts),
  );
  if (stopped) {
    const fix = stopped.code === ErrorCode.Validation ? `fix line ${stopped.line}, then ` : '';
    throw new HeraldError(
      stopped.code,
      `stopped at line ${stopped.line}: ${safeText(stopped.reason)}; ` +
        `${fix}resume with --from-line ${stopped.line}`,
    );
  }
  if (notStored.length > 0) {
    throw new ValidationError(`line(s) ${lineRanges(notStored)} not stored (see the report above)`);
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
    .option(
      '--from-line <n>',
      'stdin: start at this line (the one a stopped run names); earlier lines are skipped',
      parsePositiveInt,
    )
    .option(
      '--no-line-ids',
      'stdin: do not give lines without an "id" one derived from the line (reruns then duplicate)',
    )
    .option(
      '--input-name <name>',
      'stdin: name of the input, part of the derived line ids (use one name per input file)',
      'stdin',
    )
    .option('--skip-invalid', 'stdin: report invalid lines and go on, instead of stopping')
    .option(
      '--envelope-layout <layout>',
      "compact (default: one 'ce' field) or fields (a field per attribute, for readers that look them up by name)",
      parseLayout,
    )
    .option('--json', "print each receipt (stdin: each line's outcome) as a JSON line")
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Examples:
  $ herald publish orders '{"orderId":"o-1","total":42}'
  $ herald publish orders '{"orderId":"o-1"}' --type order.created --key o-1 --id o-1-created
  $ cat events.ndjson | herald publish orders            # one JSON payload per line
  $ herald tail orders --json | herald publish orders-copy --event --create
  $ herald publish orders '{"n":1}' --json               # {"id":...,"partition":0,"position":...}
  $ herald publish orders --from-line 1200 < events.ndjson  # resume where a run stopped

From stdin every line gets an id derived from --input-name, its line number and its
content (unless it has an "id" of its own), so running the same input again within the
topic's dedupe window stores each line once. The report names the lines stored and the
lines not stored; a stopped run prints the --from-line to resume with.`,
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
