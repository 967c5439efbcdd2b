import { InvalidArgumentError, type Command } from 'commander';
import {
  decodeEnvelope,
  decodeRaw,
  EnvelopeField,
  pairs,
  storedDataText,
} from '../../core/codec.ts';
import type { HeraldEvent } from '../../core/event.ts';
import type { Topic } from '../../core/topic.ts';
import { sendAll } from '../../ops/inspect.ts';
import type { RedisConnection } from '../../redis/connection.ts';
import { allPartitionKeys, type PartitionKeys } from '../../redis/keys.ts';
import { resolveTopic, withBackend } from '../context.ts';
import { compareIds, idBefore } from '../stream-ids.ts';
import {
  formatDuration,
  isTooDeep,
  note,
  parseDuration,
  parsePositiveInt,
  payloadText,
  printJsonLine,
  println,
  safeText,
} from '../output.ts';

interface TailOptions {
  from?: string;
  since?: number;
  count?: number;
  json?: boolean;
}

type RawEntry = [string, string[] | null];
/** RESP3 answers XREAD with a map; RESP2 with a list of [stream, entries] pairs. */
type ReadReply = Record<string, RawEntry[]> | [string, RawEntry[]][] | null;

const BLOCK_MS = 5000;
const COUNT = 200;

function parseFrom(value: string): string {
  if (value === 'now' || value === 'beginning' || value === '0') return value;
  idBefore(value); // validates
  return value;
}

/** The last id each partition holds now ('0-0' when empty): "from now" without a gap. */
async function currentEnds(
  conn: RedisConnection,
  parts: readonly PartitionKeys[],
): Promise<string[]> {
  const replies = await sendAll(
    conn,
    parts.map((p) => ({ args: ['XREVRANGE', p.stream, '+', '-', 'COUNT', '1'], key: p.stream })),
  );
  return replies.map((r) => {
    if (r instanceof Error) throw r;
    const last = (r as RawEntry[])[0];
    return last ? last[0] : '0-0';
  });
}

async function startIds(
  conn: RedisConnection,
  parts: readonly PartitionKeys[],
  opts: TailOptions,
): Promise<string[]> {
  const { since } = opts;
  if (since !== undefined) return parts.map(() => `${Date.now() - since}-0`);
  const from = opts.from ?? 'now';
  if (from === 'now') return currentEnds(conn, parts);
  if (from === 'beginning' || from === '0') return parts.map(() => '0-0');
  return parts.map(() => idBefore(from));
}

interface Printed {
  readonly partition: number;
  readonly position: string;
  readonly event?: HeraldEvent;
  readonly fields: Record<string, string>;
  readonly error?: string;
}

function decode(topic: Topic, p: PartitionKeys, position: string, flat: string[]): Printed {
  const fields = pairs(flat);
  const ctx = { topic: topic.name, partition: p.partition, position };
  try {
    const event =
      topic.codec === 'raw' ? decodeRaw(fields, ctx, topic) : decodeEnvelope(fields, ctx);
    return { partition: p.partition, position, event, fields };
  } catch (e) {
    return { partition: p.partition, position, fields, error: (e as Error).message };
  }
}

function printJsonItem(topic: Topic, item: Printed): void {
  const { event } = item;
  const where = { topic: topic.name, partition: item.partition, position: item.position };
  if (!event) {
    printJsonLine({ ...where, fields: item.fields, error: item.error });
    return;
  }
  try {
    printJsonLine({ ...where, ...event });
  } catch (e) {
    if (!isTooDeep(e)) throw e;
    // Decoded, but too deep to encode again: hand over the payload as it is stored.
    const error = 'data is nested too deeply to re-encode; rawData holds it as stored';
    printJsonLine({
      ...where,
      ...event,
      data: undefined,
      rawData: storedDataText(item.fields),
      error,
    });
  }
}

/** The payload as stored (an envelope's JSON text), not re-encoded: cheap, and safe for any depth. */
function payloadOf(topic: Topic, item: Printed, event: HeraldEvent): string {
  // Only the `fields` layout stores the payload's JSON on its own; compact entries re-encode it.
  const stored = item.fields[EnvelopeField.data];
  return topic.codec === 'raw' || stored === undefined ? JSON.stringify(event.data) : stored;
}

function print(topic: Topic, item: Printed, json: boolean): void {
  if (json) {
    printJsonItem(topic, item);
    return;
  }
  const { event } = item;
  const where = `${item.partition}/${item.position}`;
  if (!event) {
    const fields = payloadText(JSON.stringify(item.fields));
    println(`${where}  (undecodable: ${safeText(item.error ?? '')})  ${fields}`);
    return;
  }
  const key = event.key !== undefined ? `  key=${safeText(event.key)}` : '';
  const head = `${safeText(event.time)}  ${where}  ${safeText(event.type)}${key}`;
  println(`${head}  ${payloadText(payloadOf(topic, item, event))}`);
}

/** Adds `herald tail`. */
export function registerTailCommand(program: Command): void {
  program
    .command('tail')
    .description("print a topic's events as they arrive, like tail -f (Ctrl-C to stop)")
    .argument('<topic>', 'topic name')
    .option(
      '--from <id>',
      "'now' (default), 'beginning', or a position such as 1718000000000-0 (inclusive)",
      parseFrom,
    )
    .option('--since <duration>', 'start this long ago, e.g. 10m', parseDuration)
    .option('--count <n>', 'exit after printing n events', parsePositiveInt)
    .option(
      '--json',
      'one JSON object per event and line: the CloudEvent plus topic, partition, position',
    )
    .configureHelp({ showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Examples:
  $ herald tail orders                              # new events from now on
  $ herald tail orders --from beginning --count 10  # the first 10 events, then exit
  $ herald tail orders --from 1718000000000-0       # from a position (or a ms timestamp)
  $ herald tail orders --since 15m --json | jq .data

Tailing reads with XREAD: it is not a consumer group, acknowledges nothing and
changes nothing. Status lines go to stderr, events to stdout.`,
    )
    .action(async (name: string, opts: TailOptions, cmd: Command) => {
      if (opts.from !== undefined && opts.since !== undefined) {
        throw new InvalidArgumentError('use --from or --since, not both');
      }
      await withBackend(cmd, async (backend) => {
        const topic = await resolveTopic(backend, name);
        const parts = allPartitionKeys(backend.prefix, topic);
        const ids = await startIds(backend.conn, parts, opts);
        await tail(backend.conn, topic, parts, ids, opts);
      });
    });
}

/** Reads until Ctrl-C (or --count events), on its own connection because XREAD BLOCK holds it. */
async function tail(
  conn: RedisConnection,
  topic: Topic,
  parts: readonly PartitionKeys[],
  ids: string[],
  opts: TailOptions,
): Promise<void> {
  const blocking = await conn.duplicate();
  let stopping = false;
  const stop = (): void => {
    stopping = true;
    blocking.destroy(); // rejects the blocked XREAD at once
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.stdout.on('error', stop); // e.g. `herald tail | head` closed the pipe
  const byStream = new Map(parts.map((p, i) => [p.stream, i]));
  let printed = 0;
  const from =
    opts.since !== undefined ? `${formatDuration(opts.since)} ago` : (opts.from ?? 'now');
  note(`tailing '${topic.name}' (${parts.length} partition(s)) from ${from}; Ctrl-C to stop`);
  try {
    while (!stopping) {
      let reply: ReadReply;
      try {
        const args = ['XREAD', 'COUNT', String(COUNT), 'BLOCK', String(BLOCK_MS), 'STREAMS'];
        reply = await blocking.send<ReadReply>([...args, ...parts.map((p) => p.stream), ...ids]);
      } catch (e) {
        if (stopping) break;
        throw e;
      }
      if (reply === null) continue;
      const items: Printed[] = [];
      for (const [stream, entries] of Array.isArray(reply) ? reply : Object.entries(reply)) {
        const i = byStream.get(stream);
        const p = i === undefined ? undefined : parts[i];
        if (i === undefined || !p) continue;
        for (const [position, flat] of entries) {
          ids[i] = position;
          if (flat) items.push(decode(topic, p, position, flat));
        }
      }
      items.sort((a, b) => compareIds(a.position, b.position));
      for (const item of items) {
        print(topic, item, opts.json === true);
        printed++;
        if (opts.count !== undefined && printed >= opts.count) {
          stopping = true;
          break;
        }
      }
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    blocking.destroy();
  }
}
