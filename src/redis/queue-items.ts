/**
 * How a work queue lives in Redis. All keys of one queue share one hash tag,
 * so every queue script stays in one Redis Cluster slot:
 *
 *   herald:{q:<name>}:pending      list: waiting items, pushed at the head, taken from the tail
 *   herald:{q:<name>}:processing   list: items taken by a worker and not finished
 *   herald:{q:<name>}:leases       zset: "<id>:<attempt>" -> lease deadline (ms, Redis clock)
 *   herald:{q:<name>}:dead         list: items that used up their attempts, with the last error
 *
 * An item is a JSON string that always starts with `{"id":"<hex>","attempt":<n>,`
 * so the Lua scripts can raise the attempt count by rewriting that prefix,
 * never re-encoding (and so never altering) the payload.
 */
import { randomBytes } from 'node:crypto';
import { errorMessage } from '../core/error-text.ts';
import { ConfigError, DecodeError, ValidationError } from '../core/errors.ts';
import type { DeadItem, Job } from '../core/queue.ts';

export interface QueueKeys {
  readonly pending: string;
  readonly processing: string;
  readonly leases: string;
  readonly dead: string;
}

export function queueKeys(prefix: string, name: string): QueueKeys {
  if (typeof name !== 'string' || name === '' || /[{}]/.test(name)) {
    throw new ConfigError(
      `queue name must be a non-empty string without braces, got '${String(name)}'`,
    );
  }
  const base = `${prefix}:{q:${name}}`;
  return {
    pending: `${base}:pending`,
    processing: `${base}:processing`,
    leases: `${base}:leases`,
    dead: `${base}:dead`,
  };
}

/** A new item for `data`, with a fresh id. */
export function encodeItem(data: unknown, now = Date.now()): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(data ?? null);
  } catch (e) {
    throw new ValidationError(`queue item is not JSON-serialisable: ${errorMessage(e)}`, [], {
      cause: e,
    });
  }
  if (json === undefined)
    throw new ValidationError(`queue item of type ${typeof data} is not JSON-serialisable`);
  const id = randomBytes(12).toString('hex');
  return `{"id":"${id}","attempt":0,"pushedAt":${now},"data":${json}}`;
}

interface StoredItem {
  id: string;
  attempt: number;
  pushedAt: number;
  data: unknown;
}

function parseItem(raw: string): StoredItem {
  const v = JSON.parse(raw) as Partial<StoredItem>;
  if (typeof v.id !== 'string' || typeof v.attempt !== 'number' || typeof v.pushedAt !== 'number') {
    throw new Error('not a queue item');
  }
  return v as StoredItem;
}

/** The lease member of a stored item: "<id>:<attempt>". */
export function leaseOf(item: { id: string; attempt: number }): string {
  return `${item.id}:${item.attempt}`;
}

/** A taken item as its handler sees it, plus its lease member. */
export function decodeItem<T>(queue: string, raw: string): { job: Job<T>; lease: string } {
  let v: StoredItem;
  try {
    v = parseItem(raw);
  } catch (e) {
    throw new DecodeError(`queue '${queue}': an item is not valid JSON in Herald's format`, {
      cause: e,
    });
  }
  return {
    job: {
      queue,
      id: v.id,
      data: v.data as T,
      attempt: v.attempt + 1,
      pushedAt: new Date(v.pushedAt).toISOString(),
    },
    lease: leaseOf(v),
  };
}

/** An entry of the dead list; undefined when it cannot be read. */
export function decodeDead<T>(raw: string): DeadItem<T> | undefined {
  try {
    const v = JSON.parse(raw) as {
      reason?: unknown;
      error?: unknown;
      at?: unknown;
      item?: unknown;
    };
    const item = v.item as Partial<StoredItem> | undefined;
    if (typeof item?.id !== 'string' || typeof item.attempt !== 'number') return undefined;
    return {
      id: item.id,
      data: item.data as T,
      attempts: item.attempt,
      reason: v.reason === 'lease-expired' ? 'lease-expired' : 'handler-failed',
      error: typeof v.error === 'string' ? v.error : '',
      deadLetteredAt: new Date(typeof v.at === 'number' ? v.at : 0).toISOString(),
    };
  } catch {
    return undefined;
  }
}
