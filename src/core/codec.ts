/**
 * Event <-> stream-entry fields. An entry is a flat list of field/value strings
 * (a Redis stream entry, or the in-memory backend's copy of one).
 *
 * The envelope is a CloudEvents 1.0 event in one of two layouts (topic.ts `EnvelopeLayout`);
 * readers decode both, whatever the topic writes:
 * - compact: `ce` = the JSON array `[type, source, data]`, then the optional attributes;
 * - fields: `specversion`, `type`, `source`, the optional attributes, `data`.
 * Attributes the store already records are not written twice unless asked
 * (`storeAllAttributes`): without an explicit id the event's id is derived from its position,
 * without an explicit time the time comes from the position's timestamp, and
 * `datacontenttype` is written only when it is not JSON. The compact layout keeps the usual
 * event at two strings, as a hand-written XADD of its payload: every extra string is encoded
 * by the client, stored by Redis and decoded again on every read.
 */
import { DecodeError } from './errors.ts';
import type { DeliveryInfo, HeraldEvent, OutgoingEvent } from './event.ts';
import type { Topic } from './topic.ts';

export type Fields = Record<string, string>;

/** Field names of the envelope. Foreign readers can rely on these. */
export const EnvelopeField = {
  /** The compact layout: the JSON array `[type, source, data]`. */
  compact: 'ce',
  specversion: 'specversion',
  id: 'id',
  source: 'source',
  type: 'type',
  time: 'time',
  datacontenttype: 'datacontenttype',
  subject: 'subject',
  key: 'partitionkey',
  data: 'data',
  headers: 'headers',
  traceparent: 'traceparent',
  /** Set on a replayed dead letter: only this group handles it, the others acknowledge it silently. */
  replayFor: 'herald-replay-for',
} as const;

const JSON_TYPE = 'application/json';

/**
 * The flat field list for XADD, in a stable order (Redis compacts entries whose field names
 * repeat). `explicit.data`, when given, is encoded instead of `event.data` (the value a schema
 * returned), so the caller need not copy the event. Throws what JSON.stringify throws.
 */
export function encodeEnvelope<T>(
  topic: Topic<T>,
  event: OutgoingEvent<T>,
  defaults: { source: string },
  explicit: { id?: string | undefined; time?: string | undefined; data?: unknown } = {},
): string[] {
  return encodeEnvelopeOf(
    topic,
    event,
    defaults.source,
    'data' in explicit ? explicit.data : event.data,
    explicit.id,
    explicit.time,
  );
}

/** encodeEnvelope with its settings as arguments: the publish hot path makes no object for them. */
export function encodeEnvelopeOf<T>(
  topic: Topic<T>,
  event: OutgoingEvent<T>,
  defaultSource: string,
  givenData: unknown,
  explicitId?: string,
  explicitTime?: string,
): string[] {
  const type = event.type ?? topic.defaultType;
  const source = event.source ?? defaultSource;
  const data = givenData ?? null;
  const compact = topic.envelopeLayout === 'compact';
  // The usual event has none of the optional attributes: one check settles it, and its list is
  // built at its final length.
  if (
    event.id === undefined &&
    explicitId === undefined &&
    event.time === undefined &&
    explicitTime === undefined &&
    !topic.storeAllAttributes &&
    event.subject === undefined &&
    event.key === undefined &&
    event.traceparent === undefined &&
    event.headers === undefined
  ) {
    if (compact) {
      // A copy of a template rather than an array literal: see `compactFields`.
      const fields = COMPACT_FIELDS.slice();
      fields[1] = compactValue(type, source, data);
      return fields;
    }
    return [
      EnvelopeField.specversion,
      '1.0',
      EnvelopeField.type,
      type,
      EnvelopeField.source,
      source,
      EnvelopeField.data,
      JSON.stringify(data),
    ];
  }
  const out: string[] = compact
    ? [EnvelopeField.compact, compactValue(type, source, data)]
    : [EnvelopeField.specversion, '1.0', EnvelopeField.type, type, EnvelopeField.source, source];
  const id = event.id ?? explicitId;
  if (id !== undefined) out.push(EnvelopeField.id, id);
  const time = event.time ?? explicitTime;
  if (time !== undefined) out.push(EnvelopeField.time, time);
  if (topic.storeAllAttributes) out.push(EnvelopeField.datacontenttype, JSON_TYPE);
  if (event.subject !== undefined) out.push(EnvelopeField.subject, event.subject);
  if (event.key !== undefined) out.push(EnvelopeField.key, event.key);
  if (event.traceparent !== undefined) out.push(EnvelopeField.traceparent, event.traceparent);
  if (event.headers !== undefined && Object.keys(event.headers).length > 0) {
    out.push(EnvelopeField.headers, JSON.stringify(event.headers));
  }
  if (!compact) out.push(EnvelopeField.data, JSON.stringify(data));
  return out;
}

/**
 * The compact layout's field list, copied for each event. Not an array literal: V8 may allocate
 * the arrays of a literal straight in the old generation when many were alive at a minor GC (a
 * batch in flight), and such arrays keep their young strings alive through every minor GC after.
 */
const COMPACT_FIELDS: readonly string[] = [EnvelopeField.compact, ''];

/**
 * `["<type>","<source>",` as JSON.stringify writes it, for the last type and source asked: a
 * producer mostly writes one pair, a consumer mostly reads one. Formatted once per new pair.
 */
class CompactPrefix {
  type = '';
  source = '';
  text = '';

  of(type: string, source: string): string {
    if (type !== this.type || source !== this.source || this.text === '') {
      this.text = `[${JSON.stringify(type)},${JSON.stringify(source)},`;
      this.type = type;
      this.source = source;
    }
    return this.text;
  }
}

const written = new CompactPrefix();

/**
 * `JSON.stringify([type, source, data])`, built as the JSON-escaped type and source (formatted
 * once per pair) followed by the data's JSON: cheaper than encoding a new array every time.
 */
function compactValue(type: string, source: string, data: unknown): string {
  // A function or symbol encodes to undefined (JSON.stringify's types say string): null, as
  // inside an array; the caller refuses such data anyway (findLossyValue).
  const json = JSON.stringify(data) as string | undefined;
  return `${written.of(type, source)}${json ?? 'null'}]`;
}

/** For the raw codec the payload must be a flat record of strings: those are the entry's fields. */
export function encodeRaw(data: unknown): string[] {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new DecodeError('a raw-codec event needs data that is an object of string fields');
  }
  const out: string[] = [];
  for (const [k, v] of Object.entries(data as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new DecodeError(`raw-codec field '${k}' must be a string`);
    out.push(k, v);
  }
  if (out.length === 0) throw new DecodeError('a raw-codec event needs at least one field');
  return out;
}

/**
 * The UTF-8 size of an entry (field names and values) when it is over `maxBytes`, else
 * undefined. Cheap for the usual event: a UTF-16 unit is at most 3 UTF-8 bytes, so the bytes
 * are counted only when the length alone cannot settle it.
 */
export function entryBytesOver(fields: readonly string[], maxBytes: number): number | undefined {
  let units = 0;
  for (const f of fields) units += f.length;
  if (units * 3 <= maxBytes) return undefined;
  let bytes = 0;
  for (const f of fields) bytes += Buffer.byteLength(f, 'utf8');
  return bytes > maxBytes ? bytes : undefined;
}

/** The time of a stream position `ms-seq` (its milliseconds since the epoch), as ISO 8601. */
let lastPrefix = '';
let lastIso = '';
export function positionTime(position: string): string {
  // The entries of one read mostly share their millisecond: format each millisecond once, and
  // recognise it again without slicing or parsing the position.
  const dash = position.indexOf('-');
  if (dash > 0 && dash === lastPrefix.length && position.startsWith(lastPrefix)) return lastIso;
  const prefix = dash < 0 ? position : position.slice(0, dash);
  const ms = Number(prefix);
  lastIso = new Date(Number.isFinite(ms) ? ms : 0).toISOString();
  lastPrefix = dash > 0 ? prefix : '';
  return lastIso;
}

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The id of an event that was published without one: unique per topic. */
export function derivedId(topic: string, partition: number, position: string): string {
  return `${topic}:${partition}:${position}`;
}

export interface DecodeContext {
  readonly topic: string;
  readonly partition: number;
  readonly position: string;
  /** Set by consumers: the decoded event is then the Delivery itself (one object per event, not two). */
  readonly delivery?: DeliveryInfo;
}

/** Decodes an envelope entry. Throws DecodeError when the entry is not a Herald envelope. */
export function decodeEnvelope(fields: Fields, ctx: DecodeContext): HeraldEvent {
  return envelopeEvent(
    ctx,
    fields[EnvelopeField.compact],
    fields[EnvelopeField.specversion],
    fields[EnvelopeField.type],
    fields[EnvelopeField.data],
    fields[EnvelopeField.id],
    fields[EnvelopeField.source],
    fields[EnvelopeField.time],
    fields[EnvelopeField.datacontenttype],
    fields[EnvelopeField.subject],
    fields[EnvelopeField.key],
    fields[EnvelopeField.headers],
    fields[EnvelopeField.traceparent],
  );
}

/** The value of field `name` in a flat [f1, v1, f2, v2, …] list (the last one when repeated). */
export function fieldOf(flat: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) value = flat[i + 1];
  return value;
}

/**
 * decodeEnvelope for an entry given as the flat field list the store returned, without building
 * its record: the strings a client decodes from a reply are not interned, and storing each as a
 * property name costs more than this scan. Fields that are not the envelope's are ignored, a
 * repeated field's last value counts (as in the record).
 */
export function decodeEnvelopeFlat(flat: readonly string[], ctx: DecodeContext): HeraldEvent {
  let compact, specversion, type, data, id, source, time, contentType, subject, key, headers;
  let traceparent;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const value = flat[i + 1];
    switch (flat[i]) {
      case EnvelopeField.compact:
        compact = value;
        break;
      case EnvelopeField.specversion:
        specversion = value;
        break;
      case EnvelopeField.type:
        type = value;
        break;
      case EnvelopeField.source:
        source = value;
        break;
      case EnvelopeField.data:
        data = value;
        break;
      case EnvelopeField.id:
        id = value;
        break;
      case EnvelopeField.time:
        time = value;
        break;
      case EnvelopeField.datacontenttype:
        contentType = value;
        break;
      case EnvelopeField.subject:
        subject = value;
        break;
      case EnvelopeField.key:
        key = value;
        break;
      case EnvelopeField.headers:
        headers = value;
        break;
      case EnvelopeField.traceparent:
        traceparent = value;
        break;
    }
  }
  return envelopeEvent(
    ctx,
    compact,
    specversion,
    type,
    data,
    id,
    source,
    time,
    contentType,
    subject,
    key,
    headers,
    traceparent,
  );
}

/** `[type, source, data]` of a compact envelope, or a DecodeError saying what is wrong. */
function parseCompact(text: string, position: string): [string, string, unknown] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new DecodeError(`entry ${position}: '${EnvelopeField.compact}' is not valid JSON`, {
      cause,
    });
  }
  if (
    !Array.isArray(value) ||
    value.length !== 3 ||
    typeof value[0] !== 'string' ||
    value[0] === '' ||
    typeof value[1] !== 'string' ||
    value[1] === ''
  ) {
    throw new DecodeError(
      `entry ${position}: '${EnvelopeField.compact}' must be a JSON array [type, source, data] with non-empty strings for type and source`,
    );
  }
  return value as [string, string, unknown];
}

/** The type and source of the last compact envelope read whole, with its text up to the data. */
const read = new CompactPrefix();
const NOT_KNOWN: unique symbol = Symbol('not known');

/**
 * The data of a compact envelope that starts with the last type and source read, parsed alone:
 * the array and its two strings are not made again for each event. The text is then
 * `<prefix><data>]`, and parses as a whole exactly when `<data>` parses as one JSON value; any
 * other text (another pair, a malformed array) gets NOT_KNOWN and is parsed, and judged, whole.
 */
function knownCompactData(text: string): unknown {
  const prefix = read.text;
  if (
    prefix === '' ||
    text.charCodeAt(text.length - 1) !== 0x5d /* ] */ ||
    !text.startsWith(prefix)
  )
    return NOT_KNOWN;
  try {
    return JSON.parse(text.slice(prefix.length, -1)) as unknown;
  } catch {
    return NOT_KNOWN;
  }
}

/** The event of an envelope's stored attributes (undefined: not stored). */
function envelopeEvent(
  ctx: DecodeContext,
  compact: string | undefined,
  specversion: string | undefined,
  type: string | undefined,
  rawData: string | undefined,
  id: string | undefined,
  source: string | undefined,
  time: string | undefined,
  contentType: string | undefined,
  subject: string | undefined,
  key: string | undefined,
  rawHeaders: string | undefined,
  traceparent: string | undefined,
): HeraldEvent {
  let data: unknown;
  if (compact !== undefined) {
    if (
      specversion !== undefined ||
      type !== undefined ||
      source !== undefined ||
      rawData !== undefined
    ) {
      throw new DecodeError(
        `entry ${ctx.position} mixes the two envelope layouts: '${EnvelopeField.compact}' with specversion, type, source or data fields`,
      );
    }
    const known = knownCompactData(compact);
    if (known !== NOT_KNOWN) {
      type = read.type;
      source = read.source;
      data = known;
    } else {
      const triple = parseCompact(compact, ctx.position);
      type = triple[0];
      source = triple[1];
      data = triple[2];
      read.of(type, source);
    }
  } else {
    if (specversion === undefined || type === undefined || rawData === undefined) {
      const missing: string[] = [];
      if (specversion === undefined) missing.push(EnvelopeField.specversion);
      if (type === undefined) missing.push(EnvelopeField.type);
      if (rawData === undefined) missing.push(EnvelopeField.data);
      throw new DecodeError(
        `entry ${ctx.position} has no Herald envelope: missing ${missing.join(', ')} (or '${EnvelopeField.compact}')`,
      );
    }
    if (specversion !== '1.0') {
      throw new DecodeError(`entry ${ctx.position} has unsupported specversion '${specversion}'`);
    }
    try {
      data = JSON.parse(rawData);
    } catch (cause) {
      throw new DecodeError(`entry ${ctx.position}: data is not valid JSON`, { cause });
    }
  }
  let headers = NO_HEADERS;
  if (rawHeaders !== undefined) {
    try {
      headers = JSON.parse(rawHeaders) as Record<string, string>;
    } catch (cause) {
      throw new DecodeError(`entry ${ctx.position}: headers are not valid JSON`, { cause });
    }
  }
  return {
    specversion: '1.0',
    id: id ?? derivedId(ctx.topic, ctx.partition, ctx.position),
    source: source ?? 'unknown',
    type,
    time: time ?? positionTime(ctx.position),
    datacontenttype: contentType ?? JSON_TYPE,
    subject,
    key,
    data,
    headers,
    traceparent,
    delivery: ctx.delivery,
  } as HeraldEvent;
}

/** A raw entry becomes an event whose data is the entry's fields. */
export function decodeRaw(fields: Fields, ctx: DecodeContext, topic: Topic<unknown>): HeraldEvent {
  return {
    specversion: '1.0',
    id: derivedId(ctx.topic, ctx.partition, ctx.position),
    source: 'redis-stream',
    type: topic.defaultType,
    time: positionTime(ctx.position),
    datacontenttype: 'application/x-redis-stream-fields',
    subject: undefined,
    key: undefined,
    data: { ...fields },
    headers: NO_HEADERS,
    traceparent: undefined,
    delivery: ctx.delivery,
  } as HeraldEvent;
}

/** Pairs a flat [f1, v1, f2, v2, …] list into a record. */
export function pairs(flat: readonly string[]): Fields {
  const out: Fields = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string;
  return out;
}

/** The stored text that holds an envelope's payload: `data`, or the whole compact `ce` array. */
export function storedDataText(fields: Readonly<Fields>): string | undefined {
  return fields[EnvelopeField.data] ?? fields[EnvelopeField.compact];
}

/**
 * An entry's payload for people (dead-letter inspection), whichever layout stored it: parsed
 * from `data` or taken from the compact `ce` array; the stored text when it does not parse.
 */
export function inspectData(fields: Readonly<Fields>): unknown {
  const text = fields[EnvelopeField.data];
  if (text !== undefined) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  const compact = fields[EnvelopeField.compact];
  if (compact === undefined) return undefined;
  try {
    return parseCompact(compact, '')[2];
  } catch {
    return compact;
  }
}

/**
 * The fields of an entry with a compact envelope's `ce` shown as the `type` and `source` it
 * holds (its payload is shown apart); other entries as they are.
 */
export function compactAttributes(fields: Readonly<Fields>): Fields {
  const compact = fields[EnvelopeField.compact];
  if (compact === undefined) return { ...fields };
  const out: Fields = {};
  for (const [k, v] of Object.entries(fields)) {
    if (k !== EnvelopeField.compact) {
      out[k] = v;
      continue;
    }
    try {
      const [type, source] = parseCompact(compact, '');
      out[EnvelopeField.type] = type;
      out[EnvelopeField.source] = source;
    } catch {
      out[k] = v; // not a valid compact envelope: shown as stored
    }
  }
  return out;
}
