/**
 * `herald publish` from stdin: one event per input line, published in batches, with a
 * report of exactly which lines were stored and which were not, by line number.
 *
 * Reruns do not duplicate: a line without an id of its own gets one derived from the input
 * name, its line number and its content, so publishing the same input again within the
 * topic's dedupe window stores each line once (the rest come back as duplicates), and
 * `--from-line N` resumes at the line the report names. After a failed batch the dedupe
 * records tell which of its lines were stored.
 */
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { errorMessage } from '../../core/error-text.ts';
import { ErrorCode, HeraldError, ValidationError } from '../../core/errors.ts';
import type { OutgoingEvent, PublishReceipt } from '../../core/event.ts';
import { formatPath } from '../../core/encodable.ts';
import { partitionFor } from '../../core/partition.ts';
import type { Topic } from '../../core/topic.ts';
import type { RedisBackend } from '../../redis/backend.ts';
import { partitionKeys } from '../../redis/keys.ts';
import { printJsonLine, println, safeText } from '../output.ts';

export interface StdinOptions {
  readonly json: boolean;
  readonly batch: number;
  /** Derive an id for lines that carry none (default true). */
  readonly lineIds: boolean;
  /** Names the input in derived ids, so two inputs with equal lines are not taken for one. */
  readonly inputName: string;
  /** Lines before this one are read but not published. */
  readonly fromLine: number;
  /** Report invalid lines and go on, instead of stopping at the first. */
  readonly skipInvalid: boolean;
}

/** How one input line ended. `unknown`: the write failed in a way that may have stored it. */
type LineOutcome =
  | { readonly line: number; readonly status: 'stored'; readonly receipt: PublishReceipt }
  | {
      readonly line: number;
      readonly status: 'invalid' | 'not-stored' | 'unknown';
      readonly error: string;
    };

/** Where and why a run stopped before the end of its input. */
export interface Stop {
  readonly line: number;
  readonly reason: string;
  readonly code: ErrorCode;
}

interface PendingLine {
  readonly line: number;
  readonly event: OutgoingEvent;
}

/** Hex characters of the content hash kept in a derived id. */
const LINE_ID_HASH_CHARS = 24;

/** The id of a line without one: stable across reruns of the same input, distinct per line. */
export function lineId(inputName: string, line: number, text: string): string {
  const hash = createHash('sha256').update(`${inputName}\n${line}\n${text}`).digest('hex');
  return `line-${line}-${hash.slice(0, LINE_ID_HASH_CHARS)}`;
}

/** [1,2,3,5,7,8] -> "1-3, 5, 7-8". */
export function lineRanges(lines: readonly number[]): string {
  const sorted = [...lines].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(', ');
}

const OUTCOME_TEXT = {
  invalid: 'not stored, invalid',
  'not-stored': 'not stored',
  unknown: 'outcome unknown (may be stored)',
} as const;

/** What is wrong with a line's event, by field (the batch index in the message means nothing to the user). */
function describeIssues(e: ValidationError): string {
  if (e.issues.length === 0) return e.message;
  return e.issues
    .map((i) => (i.path.length > 0 ? `${formatPath(i.path)}: ${i.message}` : i.message))
    .join('; ');
}

/** A write error after which an absent dedupe record means "not stored" (Redis refused it). */
function refusedOutright(e: unknown): boolean {
  return (
    e instanceof HeraldError &&
    (e.code === 'HERALD_CAPACITY' || e.code === 'HERALD_REDIS' || e.code === 'HERALD_VALIDATION')
  );
}

class StdinPublisher {
  readonly outcomes: LineOutcome[] = [];
  private batch: PendingLine[] = [];
  /** Set when publishing stopped before the end of the input: the line, why, and the error's code. */
  stoppedAt: Stop | undefined;

  constructor(
    private readonly backend: RedisBackend,
    private readonly topic: Topic,
    private readonly opts: StdinOptions,
  ) {}

  private record(outcome: LineOutcome): void {
    this.outcomes.push(outcome);
    if (!this.opts.json) return;
    if (outcome.status === 'stored')
      printJsonLine({ line: outcome.line, status: 'stored', ...outcome.receipt });
    else printJsonLine(outcome);
  }

  invalid(line: number, error: string): void {
    this.record({ line, status: 'invalid', error });
    if (!this.opts.skipInvalid)
      this.stoppedAt ??= { line, reason: error, code: ErrorCode.Validation };
  }

  async add(line: number, event: OutgoingEvent): Promise<void> {
    this.batch.push({ line, event });
    if (this.batch.length >= this.opts.batch) await this.flush();
  }

  /** Publishes what is batched. A batch is all or nothing when an event is invalid: the valid ones are sent again without it. */
  async flush(): Promise<void> {
    while (this.batch.length > 0) {
      const batch = this.batch;
      try {
        const receipts = await this.backend.publishBatch(
          this.topic,
          batch.map((p) => p.event),
        );
        this.batch = [];
        receipts.forEach((receipt, i) =>
          this.record({ line: (batch[i] as PendingLine).line, status: 'stored', receipt }),
        );
      } catch (e) {
        if (e instanceof ValidationError && e.index !== undefined && batch[e.index]) {
          const bad = batch[e.index] as PendingLine;
          // Nothing of the batch was written: publish the others again without the bad line.
          this.batch = this.opts.skipInvalid
            ? batch.filter((_, i) => i !== e.index)
            : batch.slice(0, e.index);
          if (this.batch.length > 0) await this.flush();
          this.invalid(bad.line, describeIssues(e));
          if (!this.opts.skipInvalid) this.batch = [];
          return;
        }
        this.batch = [];
        await this.settleFailedBatch(batch, e);
        return;
      }
    }
  }

  /** After a write failure: which lines of the batch were stored, by their dedupe records. */
  private async settleFailedBatch(batch: readonly PendingLine[], error: unknown): Promise<void> {
    const reason = errorMessage(error);
    const stored = await this.storedPositions(batch).catch(() => batch.map(() => undefined));
    const refused = refusedOutright(error);
    batch.forEach((p, i) => {
      const position = stored[i];
      if (position !== undefined && p.event.id !== undefined) {
        const partition = partitionFor(this.topic.partitions, p.event.key, p.event.id);
        this.record({
          line: p.line,
          status: 'stored',
          receipt: {
            id: p.event.id,
            topic: this.topic.name,
            partition,
            position,
            duplicate: false,
          },
        });
      } else {
        const status = refused && p.event.id !== undefined ? 'not-stored' : 'unknown';
        this.record({ line: p.line, status, error: reason });
      }
    });
    const first = this.outcomes.find((o) => o.status !== 'stored' && o.status !== 'invalid');
    const code = error instanceof HeraldError ? error.code : ErrorCode.Redis;
    this.stoppedAt = { line: first?.line ?? (batch[0] as PendingLine).line, reason, code };
  }

  /** The stored position of each line (by its dedupe record), undefined where there is none. */
  private async storedPositions(batch: readonly PendingLine[]): Promise<(string | undefined)[]> {
    return Promise.all(
      batch.map(async (p) => {
        const id = p.event.id;
        if (id === undefined) return undefined;
        const partition = partitionFor(this.topic.partitions, p.event.key, id);
        const keys = partitionKeys(this.backend.prefix, this.topic, partition);
        const key = keys.dedupePrefix + id;
        const position = await this.backend.conn.send<string | null>(['GET', key], { key });
        return position ?? undefined;
      }),
    );
  }
}

/** What a run did: where it stopped (if it did) and the lines read but not stored. */
export interface StdinResult {
  readonly stopped: Stop | undefined;
  readonly notStored: readonly number[];
}

/**
 * Reads `input` line by line and publishes; `toEvent` turns a line into an event (throws
 * ValidationError for a line that is not one). Prints the report and returns what happened.
 */
export async function publishLines(
  backend: RedisBackend,
  topic: Topic,
  input: Readable,
  opts: StdinOptions,
  toEvent: (text: string, where: string) => OutgoingEvent,
): Promise<StdinResult> {
  const publisher = new StdinPublisher(backend, topic, opts);
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  try {
    for await (const text of lines) {
      lineNo++;
      if (lineNo < opts.fromLine || text.trim() === '') continue;
      let event: OutgoingEvent;
      try {
        event = toEvent(text, 'the line');
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        await publisher.flush();
        if (publisher.stoppedAt) break;
        publisher.invalid(lineNo, describeIssues(e));
        if (publisher.stoppedAt) break;
        continue;
      }
      if (event.id === undefined && opts.lineIds) {
        event = { ...event, id: lineId(opts.inputName, lineNo, text) };
      }
      await publisher.add(lineNo, event);
      if (publisher.stoppedAt) break;
    }
    if (!publisher.stoppedAt) await publisher.flush();
  } finally {
    lines.close();
  }
  report(topic, publisher, opts);
  return {
    stopped: publisher.stoppedAt,
    notStored: publisher.outcomes.filter((o) => o.status !== 'stored').map((o) => o.line),
  };
}

function report(topic: Topic, publisher: StdinPublisher, opts: StdinOptions): void {
  const { outcomes, stoppedAt } = publisher;
  const stored = outcomes.filter((o) => o.status === 'stored');
  const duplicates = stored.filter((o) => o.receipt.duplicate).length;
  if (opts.json) {
    if (stoppedAt)
      printJsonLine({
        status: 'stopped',
        line: stoppedAt.line,
        resumeFromLine: stoppedAt.line,
        error: stoppedAt.reason,
      });
    return;
  }
  const dup = duplicates > 0 ? ` (${duplicates} duplicate(s) not written again)` : '';
  const failed = outcomes.filter((o) => o.status !== 'stored');
  if (failed.length === 0 && !stoppedAt) {
    println(`published ${stored.length} event(s) to '${topic.name}'${dup}`);
    return;
  }
  println(
    stored.length > 0
      ? `stored lines ${lineRanges(stored.map((o) => o.line))} in '${topic.name}': ${stored.length} event(s)${dup}`
      : `no line was stored in '${topic.name}'`,
  );
  for (const o of failed) {
    const what = OUTCOME_TEXT[o.status];
    println(`line ${o.line}: ${what}: ${safeText(o.error)}`);
  }
  if (stoppedAt) {
    println(`stopped at line ${stoppedAt.line}; the lines after it were not published`);
    const fix = failed.some((o) => o.line === stoppedAt.line && o.status === 'invalid')
      ? `fix line ${stoppedAt.line}, then `
      : '';
    println(
      `to resume: ${fix}run the same command again with --from-line ${stoppedAt.line}` +
        (opts.lineIds
          ? ' (lines already stored are recognised by their ids and not written twice)'
          : ''),
    );
  }
}
