/**
 * Event <-> stream-entry fields. An entry is a flat list of field/value strings
 * (a Redis stream entry, or the in-memory backend's copy of one).
 *
 * The envelope codec writes the CloudEvents attributes as fields. Attributes
 * the store already records are not written twice unless asked
 * (`storeAllAttributes`): without an explicit id the event's id is derived from
 * its position, without an explicit time the time comes from the position's
 * timestamp, and `datacontenttype` is written only when it is not JSON. That
 * keeps an event within ~1.3x the memory of a bare payload.
 */
import { DecodeError } from './errors.ts';
import type { DeliveryInfo, HeraldEvent, OutgoingEvent } from './event.ts';
import type { Topic } from './topic.ts';

export type Fields = Record<string, string>;

/** Field names of the envelope. Foreign readers can rely on these. */
export const EnvelopeField = {
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
 * returned), so the caller need not copy the event.
 */
export function encodeEnvelope<T>(
  topic: Topic<T>,
  event: OutgoingEvent<T>,
  defaults: { source: string },
  explicit: { id?: string | undefined; time?: string | undefined; data?: unknown } = {},
): string[] {
  const type = event.type ?? topic.defaultType;
  const source = event.source ?? defaults.source;
  const data = 'data' in explicit ? explicit.data : event.data;
  // The usual event has none of the optional attributes: one check settles it, and its list is
  // built at its final length.
  if (
    event.id === undefined &&
    explicit.id === undefined &&
    event.time === undefined &&
    explicit.time === undefined &&
    !topic.storeAllAttributes &&
    event.subject === undefined &&
    event.key === undefined &&
    event.traceparent === undefined &&
    event.headers === undefined
  ) {
    return [
      EnvelopeField.specversion,
      '1.0',
      EnvelopeField.type,
      type,
      EnvelopeField.source,
      source,
      EnvelopeField.data,
      JSON.stringify(data ?? null),
    ];
  }
  const out: string[] = [
    EnvelopeField.specversion,
    '1.0',
    EnvelopeField.type,
    type,
    EnvelopeField.source,
    source,
  ];
  const id = event.id ?? explicit.id;
  if (id !== undefined) out.push(EnvelopeField.id, id);
  const time = event.time ?? explicit.time;
  if (time !== undefined) out.push(EnvelopeField.time, time);
  if (topic.storeAllAttributes) out.push(EnvelopeField.datacontenttype, JSON_TYPE);
  if (event.subject !== undefined) out.push(EnvelopeField.subject, event.subject);
  if (event.key !== undefined) out.push(EnvelopeField.key, event.key);
  if (event.traceparent !== undefined) out.push(EnvelopeField.traceparent, event.traceparent);
  if (event.headers !== undefined && Object.keys(event.headers).length > 0) {
    out.push(EnvelopeField.headers, JSON.stringify(event.headers));
  }
  out.push(EnvelopeField.data, JSON.stringify(data ?? null));
  return out;
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
  const specversion = fields[EnvelopeField.specversion];
  const type = fields[EnvelopeField.type];
  const rawData = fields[EnvelopeField.data];
  if (specversion === undefined || type === undefined || rawData === undefined) {
    const missing = [EnvelopeField.specversion, EnvelopeField.type, EnvelopeField.data].filter(
      (f) => fields[f] === undefined,
    );
    throw new DecodeError(
      `entry ${ctx.position} has no Herald envelope: missing ${missing.join(', ')}`,
    );
  }
  if (specversion !== '1.0') {
    throw new DecodeError(`entry ${ctx.position} has unsupported specversion '${specversion}'`);
  }
  let data: unknown;
  try {
    data = JSON.parse(rawData);
  } catch (cause) {
    throw new DecodeError(`entry ${ctx.position}: data is not valid JSON`, { cause });
  }
  let headers = NO_HEADERS;
  const rawHeaders = fields[EnvelopeField.headers];
  if (rawHeaders !== undefined) {
    try {
      headers = JSON.parse(rawHeaders) as Record<string, string>;
    } catch (cause) {
      throw new DecodeError(`entry ${ctx.position}: headers are not valid JSON`, { cause });
    }
  }
  return {
    specversion: '1.0',
    id: fields[EnvelopeField.id] ?? derivedId(ctx.topic, ctx.partition, ctx.position),
    source: fields[EnvelopeField.source] ?? 'unknown',
    type,
    time: fields[EnvelopeField.time] ?? positionTime(ctx.position),
    datacontenttype: fields[EnvelopeField.datacontenttype] ?? JSON_TYPE,
    subject: fields[EnvelopeField.subject],
    key: fields[EnvelopeField.key],
    data,
    headers,
    traceparent: fields[EnvelopeField.traceparent],
    delivery: ctx.delivery,
  } as HeraldEvent;
}

/** The value of field `name` in a flat [f1, v1, f2, v2, …] list (the last one when repeated). */
export function fieldOf(flat: readonly string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i] === name) value = flat[i + 1];
  return value;
}

/** The envelope's fields of one entry, reused by every decodeEnvelopeFlat call (it is synchronous). */
const envelopeScratch: Record<string, string | undefined> = {};
const ENVELOPE_NAMES: readonly string[] = Object.values(EnvelopeField);

/**
 * decodeEnvelope for an entry given as the flat field list the store returned, without building
 * its record: the strings a client decodes from a reply are not interned, and storing each as a
 * property name costs more than the whole scan. Fields that are not the envelope's are ignored
 * (as decodeEnvelope ignores them).
 */
export function decodeEnvelopeFlat(flat: readonly string[], ctx: DecodeContext): HeraldEvent {
  const fields = envelopeScratch;
  for (const name of ENVELOPE_NAMES) fields[name] = undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i] as string;
    switch (name) {
      case EnvelopeField.specversion:
      case EnvelopeField.id:
      case EnvelopeField.source:
      case EnvelopeField.type:
      case EnvelopeField.time:
      case EnvelopeField.datacontenttype:
      case EnvelopeField.subject:
      case EnvelopeField.key:
      case EnvelopeField.data:
      case EnvelopeField.headers:
      case EnvelopeField.traceparent:
        fields[name] = flat[i + 1];
    }
  }
  return decodeEnvelope(fields as Fields, ctx);
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
