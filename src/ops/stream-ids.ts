/**
 * Stream ids (`ms-seq`) for operations code: compared exactly (both parts can
 * exceed 2^53, so as BigInts), stepped back by one, and parsed from what an
 * operator types (a position, a time, `beginning`, `end`).
 */
import { ValidationError } from '../core/errors.ts';

const STREAM_ID = /^(\d+)(?:-(\d+))?$/;
const MAX_SEQ = 18446744073709551615n;

/** Orders two stream ids (a bare `ms` counts as `ms-0`). */
export function compareStreamIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** True for `ms` or `ms-seq`. */
export function isStreamId(text: string): boolean {
  return STREAM_ID.test(text);
}

/** The id just before `id`, so that an exclusive read starts at `id` itself. */
export function streamIdBefore(id: string): string {
  const m = STREAM_ID.exec(id);
  if (!m) throw new ValidationError(`'${id}' is not a stream position (ms or ms-seq)`);
  const ms = BigInt(m[1] ?? '0');
  const seq = BigInt(m[2] ?? '0');
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-${MAX_SEQ}`;
  return '0-0';
}

/** Where an operator asks a group (or a browse) to start. */
export type StreamTarget =
  | { readonly kind: 'beginning' }
  | { readonly kind: 'end' }
  /** The first event at or after this position. */
  | { readonly kind: 'position'; readonly position: string }
  /** The first event stored at or after this time (ms since the epoch). */
  | { readonly kind: 'time'; readonly ms: number };

/**
 * Parses `beginning`, `end`, a position (`1718000000000-0`) or a time
 * (RFC 3339, e.g. `2026-12-06T04:00:00Z`). ValidationError otherwise.
 */
export function parseStreamTarget(text: string): StreamTarget {
  const t = text.trim();
  if (t === 'beginning' || t === 'earliest' || t === '0') return { kind: 'beginning' };
  if (t === 'end' || t === 'latest' || t === '$') return { kind: 'end' };
  if (isStreamId(t)) return { kind: 'position', position: t.includes('-') ? t : `${t}-0` };
  const ms = Date.parse(t);
  if (/^\d{4}-\d{2}-\d{2}/.test(t) && Number.isFinite(ms)) return { kind: 'time', ms };
  throw new ValidationError(
    `'${text}' is not a position or time: use beginning, end, a position such as ` +
      `1718000000000-0, or a time such as 2026-12-06T04:00:00Z`,
  );
}

/** The first position a target designates (inclusive), or undefined for `end`. */
export function firstIdOf(target: StreamTarget): string | undefined {
  switch (target.kind) {
    case 'beginning':
      return '0-0';
    case 'end':
      return undefined;
    case 'position':
      return target.position;
    case 'time':
      return `${Math.max(0, Math.floor(target.ms))}-0`;
  }
}
