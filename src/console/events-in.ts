/**
 * Events as the gateway accepts them: Herald's own JSON shape, or CloudEvents
 * in structured mode (one event, or a batch). Each becomes an OutgoingEvent;
 * the first bad one is reported with its index and nothing is written.
 */
import type { OutgoingEvent } from '../core/event.ts';
import { HttpError } from './http-errors.ts';

const NATIVE_FIELDS = new Set([
  'data',
  'type',
  'id',
  'key',
  'source',
  'subject',
  'time',
  'headers',
  'traceparent',
]);
/** CloudEvents attributes Herald maps to its own fields; other extensions become headers. */
const CE_MAPPED = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'data',
  'datacontenttype',
  'partitionkey',
  'traceparent',
]);

function invalid(index: number, message: string): HttpError {
  return new HttpError(400, 'HERALD_VALIDATION', `event #${index}: ${message}`, { index });
}

function optionalString(
  v: Record<string, unknown>,
  field: string,
  index: number,
): string | undefined {
  const x = v[field];
  if (x === undefined) return undefined;
  if (typeof x !== 'string' || x === '')
    throw invalid(index, `${field} must be a non-empty string`);
  return x;
}

function fromCloudEvent(v: Record<string, unknown>, index: number): OutgoingEvent {
  if (v.specversion !== '1.0') throw invalid(index, "specversion must be '1.0'");
  if (v.data_base64 !== undefined)
    throw invalid(index, 'data_base64 is not supported: send JSON data');
  if (!('data' in v)) throw invalid(index, 'data is required');
  const headers: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (CE_MAPPED.has(k)) continue;
    if (typeof x !== 'string') throw invalid(index, `extension ${k} must be a string`);
    headers[k] = x;
  }
  const event: Record<string, unknown> = { data: v.data };
  for (const f of ['id', 'source', 'type', 'subject', 'time', 'traceparent'] as const) {
    const s = optionalString(v, f, index);
    if (s !== undefined) event[f] = s;
  }
  const key = optionalString(v, 'partitionkey', index);
  if (key !== undefined) event.key = key;
  if (Object.keys(headers).length > 0) event.headers = headers;
  return event as unknown as OutgoingEvent;
}

function fromNative(v: Record<string, unknown>, index: number): OutgoingEvent {
  for (const k of Object.keys(v)) {
    if (!NATIVE_FIELDS.has(k)) throw invalid(index, `unknown field '${k}'`);
  }
  if (!('data' in v) || v.data === undefined) throw invalid(index, 'data is required');
  const event: Record<string, unknown> = { data: v.data };
  for (const f of ['id', 'type', 'key', 'source', 'subject', 'time', 'traceparent'] as const) {
    const s = optionalString(v, f, index);
    if (s !== undefined) event[f] = s;
  }
  if (v.headers !== undefined) {
    const h = v.headers;
    if (h === null || typeof h !== 'object' || Array.isArray(h))
      throw invalid(index, 'headers must be an object of strings');
    for (const [k, x] of Object.entries(h)) {
      if (typeof x !== 'string') throw invalid(index, `header ${k} must be a string`);
    }
    event.headers = h;
  }
  return event as unknown as OutgoingEvent;
}

/** The request body as events: an object is one event, an array a batch. */
export function eventsOfBody(body: unknown, maxBatch: number): OutgoingEvent[] {
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new HttpError(400, 'HERALD_VALIDATION', 'the batch is empty');
  if (list.length > maxBatch)
    throw new HttpError(
      400,
      'HERALD_VALIDATION',
      `a batch holds at most ${maxBatch} events, got ${list.length}`,
    );
  return list.map((v: unknown, i) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v))
      throw invalid(i, 'must be a JSON object');
    const o = v as Record<string, unknown>;
    return 'specversion' in o ? fromCloudEvent(o, i) : fromNative(o, i);
  });
}
