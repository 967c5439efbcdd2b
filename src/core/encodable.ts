/**
 * Finding what JSON cannot encode in an event's payload. `JSON.stringify` throws on some
 * values (a BigInt, a circular reference, nesting deeper than the call stack) and silently
 * turns others into `null` or drops them (NaN, ±Infinity, functions, symbols): a consumer
 * would then receive other data than was published. Both kinds are refused at publish.
 *
 * Two entry points: `findLossyValue` runs after a successful encode (the payload then has no
 * cycle, so no bookkeeping is needed and it costs a fraction of the encode), and
 * `diagnoseEncodeFailure` runs only when the encode threw, to name the offending path.
 */

import { errorMessage } from './error-text.ts';

export type JsonPath = (string | number)[];

export interface Unencodable {
  readonly path: JsonPath;
  readonly message: string;
}

/** Nesting beyond this is reported as too deep when diagnosing (the encoder ran out of stack). */
const MAX_DIAGNOSED_DEPTH = 5_000;

function leafProblem(value: unknown): string | undefined {
  switch (typeof value) {
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} is not a JSON number`;
    case 'bigint':
      return 'a BigInt cannot be encoded as JSON (send it as a string)';
    case 'function':
      return 'a function cannot be encoded as JSON';
    case 'symbol':
      return 'a symbol cannot be encoded as JSON';
    default:
      return undefined;
  }
}

/** Whether the encoder would call the value's own `toJSON` (a Date): it is then taken as it encodes. */
function hasToJson(value: object): boolean {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}

/**
 * Walks the payload; `ancestors` is given only when diagnosing (cycle detection). Paths are
 * built while unwinding, so the common case (nothing wrong) allocates nothing.
 */
function find(
  value: unknown,
  ancestors: object[] | undefined,
  depth: number,
): Unencodable | undefined {
  if (typeof value !== 'object') {
    const message = leafProblem(value);
    return message === undefined ? undefined : { path: [], message };
  }
  if (value === null || hasToJson(value)) return undefined;
  if (ancestors !== undefined) {
    if (ancestors.includes(value))
      return { path: [], message: 'a circular reference cannot be encoded as JSON' };
    if (depth > MAX_DIAGNOSED_DEPTH) {
      return { path: [], message: `nested deeper than ${MAX_DIAGNOSED_DEPTH} levels` };
    }
    ancestors.push(value);
  }
  let found: Unencodable | undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length && found === undefined; i++) {
      const inner = find(value[i], ancestors, depth + 1);
      if (inner !== undefined) found = { path: [i, ...inner.path], message: inner.message };
    }
  } else {
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue;
      const inner = find((value as Record<string, unknown>)[key], ancestors, depth + 1);
      if (inner !== undefined) {
        found = { path: [key, ...inner.path], message: inner.message };
        break;
      }
    }
  }
  ancestors?.pop();
  return found;
}

/**
 * The hot path: true when every value encodes as itself. Kept to the bare walk (no paths, no
 * own-property check: an inherited enumerable value only costs the slow path below).
 */
function encodesFaithfully(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!encodesFaithfully(value[i])) return false;
        return true;
      }
      if (hasToJson(value)) return true;
      for (const key in value) {
        if (!encodesFaithfully((value as Record<string, unknown>)[key])) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

/**
 * After the payload was encoded: a value the encode turned into null or dropped, if any.
 * A payload too deep to walk is reported as such.
 */
export function findLossyValue(value: unknown): Unencodable | undefined {
  try {
    return encodesFaithfully(value) ? undefined : find(value, undefined, 0);
  } catch (e) {
    if (e instanceof RangeError) return { path: [], message: 'nested too deeply to check' };
    throw e;
  }
}

/** After the encode threw: where and why. Falls back to the encoder's own message. */
export function diagnoseEncodeFailure(value: unknown, error: unknown): Unencodable {
  let found: Unencodable | undefined;
  try {
    found = find(value, [], 0);
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
  }
  if (found !== undefined) return found;
  if (error instanceof RangeError)
    return { path: [], message: 'nested too deeply to encode as JSON' };
  return { path: [], message: `cannot be encoded as JSON (${errorMessage(error)})` };
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
/** Longest path text put into a message; deeper paths are elided in the middle. */
const MAX_PATH_TEXT = 120;

/** ['data', 'items', 2, 'price'] -> "data.items[2].price" (shortened when very long). */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (IDENTIFIER.test(part)) out += out === '' ? part : `.${part}`;
    else out += `[${JSON.stringify(part)}]`;
  }
  if (out.length <= MAX_PATH_TEXT) return out;
  const half = MAX_PATH_TEXT / 2;
  return `${out.slice(0, half)}…${out.slice(-half)}`;
}
