/** Stream ids (`ms-seq`) handled exactly: both parts can exceed 2^53, so they are compared as BigInts. */
import { InvalidArgumentError } from 'commander';

const STREAM_ID = /^(\d+)(?:-(\d+))?$/;
const MAX_SEQ = 18446744073709551615n;

/** Orders two stream ids (a bare `ms` counts as `ms-0`). */
export function compareIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const d = BigInt(am) - BigInt(bm) || BigInt(as) - BigInt(bs);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}

/** The id just before `id`, so that XREAD (which is exclusive) starts at `id` itself. */
export function idBefore(id: string): string {
  const m = STREAM_ID.exec(id);
  if (!m) throw new InvalidArgumentError(`'${id}' is not a stream id (ms or ms-seq)`);
  const ms = BigInt(m[1] ?? '0');
  const seq = BigInt(m[2] ?? '0');
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-${MAX_SEQ}`;
  return '0-0';
}
