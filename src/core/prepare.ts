/**
 * Turning what a producer hands to `publish` into stream-entry fields: shape
 * checks, schema validation and encoding, for every event of a call before any
 * is written. Shared by every backend, so they refuse the same input the same way.
 *
 * Refused, each with a ValidationError naming the event's index and field: an
 * attribute that is not a string (`id`, `type`, `key`, `source`, …), a header value
 * that is not a string, data the schema rejects, data JSON cannot encode (BigInt,
 * circular, functions, NaN, ±Infinity), an event whose stored entry is over the
 * topic's `maxEventBytes`, an explicit id on a topic whose dedupe window is out of range.
 */
import { errorMessage, toError } from './error-text.ts';
import { encodeEnvelopeOf, encodeRaw, entryBytesOver, EnvelopeField } from './codec.ts';
import { diagnoseEncodeFailure, findLossyValue, formatPath, type JsonPath } from './encodable.ts';
import { ValidationError } from './errors.ts';
import type { OutgoingEvent } from './event.ts';
import { partitionFor } from './partition.ts';
import { validate } from './schema.ts';
import { DEFAULT_MAX_EVENT_BYTES, MAX_DEDUPE_WINDOW_MS, type Topic } from './topic.ts';

export interface PreparedEvent {
  readonly partition: number;
  /** The producer's id, when it gave one (the event is then deduplicated). */
  readonly id: string | undefined;
  /** Flat field/value list, ready for XADD. */
  readonly fields: string[];
}

/**
 * A class, not an object literal: V8 may decide to allocate the objects of a literal straight in
 * the old generation ("pretenuring") when many of them were alive at a minor GC, as the events of
 * a batch in flight are; those objects then keep every young object they point to alive through
 * each minor GC (their strings here), which made minor GCs several times slower for the rest of
 * the process. Instances of a class are never pretenured.
 */
class Prepared implements PreparedEvent {
  constructor(
    readonly partition: number,
    readonly id: string | undefined,
    readonly fields: string[],
  ) {}
}

/** Attributes that must be non-empty strings when given (CloudEvents requires them non-empty). */
const NON_EMPTY_ATTRIBUTES = ['id', 'type', 'source'] as const;
/** Attributes that must be strings when given. */
const STRING_ATTRIBUTES = ['key', 'subject', 'time', 'traceparent'] as const;

/** Encoded field name -> the attribute a producer sets (for naming the largest field). */
const ATTRIBUTE_OF_FIELD: Readonly<Record<string, string>> = {
  [EnvelopeField.key]: 'key',
  // The compact layout's one field is mostly the payload.
  [EnvelopeField.compact]: 'data',
};

/**
 * Which event of a call is being prepared; its text is built only when an error names it. A
 * synchronous pass over a call's events moves one instance along (`index`) instead of making
 * one per event.
 */
class Where {
  constructor(
    private readonly topic: string,
    public index: number,
    private readonly many: boolean,
  ) {}

  get text(): string {
    return this.many
      ? `event #${this.index} for topic '${this.topic}'`
      : `event for topic '${this.topic}'`;
  }
}

function invalid(where: Where, path: JsonPath, message: string): ValidationError {
  const field = String(path[0] ?? 'event');
  return new ValidationError(
    `${where.text}: ${formatPath(path)}: ${message}`,
    [{ message, path }],
    {
      index: where.index,
      field,
    },
  );
}

const nonEmptyOrAbsent = (v: unknown): boolean =>
  v === undefined || (typeof v === 'string' && v !== '');
const stringOrAbsent = (v: unknown): boolean => v === undefined || typeof v === 'string';

/** The hot path: plain property reads, no loop over attribute names. */
function attributesLookRight(event: OutgoingEvent<unknown>): boolean {
  return (
    nonEmptyOrAbsent(event.id) &&
    nonEmptyOrAbsent(event.type) &&
    nonEmptyOrAbsent(event.source) &&
    stringOrAbsent(event.key) &&
    stringOrAbsent(event.subject) &&
    stringOrAbsent(event.time) &&
    stringOrAbsent(event.traceparent) &&
    event.headers === undefined
  );
}

/** Throws a ValidationError naming the first attribute that is not a (non-empty) string. */
function checkAttributes(event: OutgoingEvent<unknown>, where: Where): void {
  const attrs = event as unknown as Record<string, unknown>;
  for (const name of NON_EMPTY_ATTRIBUTES) {
    const v = attrs[name];
    if (v !== undefined && (typeof v !== 'string' || v === '')) {
      throw invalid(where, [name], `must be a non-empty string, not ${describe(v)}`);
    }
  }
  for (const name of STRING_ATTRIBUTES) {
    const v = attrs[name];
    if (v !== undefined && typeof v !== 'string') {
      throw invalid(where, [name], `must be a string, not ${describe(v)}`);
    }
  }
  const headers: unknown = event.headers;
  if (headers === undefined) return;
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw invalid(where, ['headers'], `must be an object of strings, not ${describe(headers)}`);
  }
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const v = (headers as Record<string, unknown>)[name];
    if (typeof v !== 'string') {
      throw invalid(where, ['headers', name], `must be a string, not ${describe(v)}`);
    }
  }
}

/** "a number", "null", "an array": for messages, never the value itself (it may be large or secret). */
function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  const t = typeof v;
  return t === 'object' ? 'an object' : `a ${t}`;
}

function checkDedupeWindow(topic: Topic<unknown>, where: Where): void {
  const ms = topic.dedupeWindowMs;
  if (Number.isInteger(ms) && ms >= 1 && ms <= MAX_DEDUPE_WINDOW_MS) return;
  throw invalid(
    where,
    ['id'],
    `cannot be deduplicated: topic '${topic.name}' has dedupeWindowMs ${ms}, allowed are 1 to ${MAX_DEDUPE_WINDOW_MS} (7 days)`,
  );
}

function checkSize(topic: Topic<unknown>, fields: readonly string[], where: Where): void {
  const max = topic.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  const bytes = entryBytesOver(fields, max);
  if (bytes === undefined) return;
  let largest = 'data';
  let largestLength = -1;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1] as string;
    if (value.length > largestLength) {
      largestLength = value.length;
      largest =
        topic.codec === 'raw'
          ? 'data'
          : (ATTRIBUTE_OF_FIELD[fields[i] as string] ?? (fields[i] as string));
    }
  }
  throw new ValidationError(
    `${where.text} is ${bytes} bytes stored, over the topic's maxEventBytes of ${max} (largest field: ${largest})`,
    [{ message: `event is ${bytes} bytes, limit ${max}`, path: [largest] }],
    { index: where.index, field: largest },
  );
}

function encode<T>(
  topic: Topic<T>,
  event: OutgoingEvent<T>,
  data: unknown,
  source: string,
  where: Where,
): string[] {
  if (topic.codec === 'raw') {
    try {
      return encodeRaw(data);
    } catch (e) {
      const message = errorMessage(e);
      throw new ValidationError(`${where.text}: ${message}`, [{ message, path: ['data'] }], {
        index: where.index,
        field: 'data',
      });
    }
  }
  if (data === undefined) {
    throw new ValidationError(
      `${where.text} has no data`,
      [{ message: 'required', path: ['data'] }],
      {
        index: where.index,
        field: 'data',
      },
    );
  }
  let fields: string[];
  try {
    fields = encodeEnvelopeOf(topic, event, source, data);
  } catch (e) {
    const problem = diagnoseEncodeFailure(data, e);
    throw invalid(where, ['data', ...problem.path], problem.message);
  }
  // The encode above turned NaN, Infinity and functions into null or dropped them: refuse those too.
  const lossy = findLossyValue(data);
  if (lossy !== undefined) throw invalid(where, ['data', ...lossy.path], lossy.message);
  return fields;
}

/** Shape and attribute checks that need no schema. */
function checkEvent<T>(topic: Topic<T>, event: OutgoingEvent<T>, where: Where): void {
  if (event === null || typeof event !== 'object') {
    throw new ValidationError(`${where.text} must be an object with data`, [], {
      index: where.index,
      field: 'event',
    });
  }
  if (!attributesLookRight(event)) checkAttributes(event, where);
  if (event.id !== undefined) checkDedupeWindow(topic, where);
}

/** Encodes checked (and, with a schema, validated) data. */
function finish<T>(
  topic: Topic<T>,
  event: OutgoingEvent<T>,
  data: unknown,
  source: string,
  where: Where,
): PreparedEvent {
  const fields = encode(topic, event, data, source, where);
  checkSize(topic, fields, where);
  return new Prepared(partitionFor(topic.partitions, event.key, event.id), event.id, fields);
}

async function validated<T>(
  topic: Topic<T>,
  schema: NonNullable<Topic<T>['schema']>,
  event: OutgoingEvent<T>,
  where: Where,
): Promise<unknown> {
  try {
    return await validate(schema, event.data, `data of ${where.text}`);
  } catch (e) {
    if (!(e instanceof ValidationError)) throw e;
    throw new ValidationError(
      e.message,
      e.issues.map((issue) => ({ ...issue, path: ['data', ...issue.path] })),
      { index: where.index, field: 'data' },
    );
  }
}

/**
 * Prepares every event, or throws a ValidationError naming the first bad one (its `index`
 * and `field`); nothing is written either way. Without a schema nothing here waits, so the
 * events are prepared in one synchronous pass (no promise per event).
 */
export async function prepareEvents<T>(
  topic: Topic<T>,
  events: readonly OutgoingEvent<T>[],
  source: string,
): Promise<PreparedEvent[]> {
  const out: PreparedEvent[] = new Array<PreparedEvent>(events.length);
  const schema = topic.schema;
  // The loop is sequential (a schema's validation is awaited in turn): one Where serves it.
  const where = new Where(topic.name, 0, events.length > 1);
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as OutgoingEvent<T>;
    where.index = i;
    checkEvent(topic, event, where);
    const data = schema ? await validated(topic, schema, event, where) : event.data;
    out[i] = finish(topic, event, data, source, where);
  }
  return out;
}

/**
 * Prepares each event on its own, as separate publish calls do (coalesced publish()): one
 * outcome per event, the prepared event or the error that refuses it, so a bad event fails
 * only its own caller. Without a schema nothing waits (no promise per event).
 */
export async function prepareEach<T>(
  topic: Topic<T>,
  events: readonly OutgoingEvent<T>[],
  source: string,
): Promise<(PreparedEvent | Error)[]> {
  const schema = topic.schema;
  if (!schema) return prepareEachNow(topic, events, source);
  const one = (event: OutgoingEvent<T>, data: unknown, where: Where): PreparedEvent | Error => {
    try {
      return finish(topic, event, data, source, where);
    } catch (e) {
      return toError(e);
    }
  };
  return Promise.all(
    events.map(async (event) => {
      const where = new Where(topic.name, 0, false);
      try {
        checkEvent(topic, event, where);
        return one(event, await validated(topic, schema, event, where), where);
      } catch (e) {
        return toError(e);
      }
    }),
  );
}

/**
 * prepareEach for a topic without a schema, where nothing waits: the outcomes at once (the
 * coalesced publish path then spends no promise and no turn on them).
 */
export function prepareEachNow<T>(
  topic: Topic<T>,
  events: readonly OutgoingEvent<T>[],
  source: string,
): (PreparedEvent | Error)[] {
  if (topic.schema) throw new TypeError(`topic '${topic.name}' has a schema: use prepareEach`);
  const out = new Array<PreparedEvent | Error>(events.length);
  // Each event is its own call (index 0), prepared synchronously: one Where serves them all.
  const where = new Where(topic.name, 0, false);
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as OutgoingEvent<T>;
    try {
      checkEvent(topic, event, where);
      out[i] = finish(topic, event, event.data, source, where);
    } catch (e) {
      out[i] = toError(e);
    }
  }
  return out;
}
