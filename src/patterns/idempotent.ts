/**
 * Idempotent handlers: a redelivered event (at-least-once delivery, a retry, a
 * consumer that died after its handler ran but before the ack) must not apply
 * its effects twice.
 *
 * The middleware keeps one record per event in Redis, `<prefix>:<key>`:
 * - before the handler runs it takes a lease on the record (SET NX with a
 *   short expiry), so two attempts never run the handler at the same time;
 * - an event whose record says `done` is skipped;
 * - after the handler succeeded the record becomes `done` (kept for `ttlMs`);
 *   after it failed the lease is released so the retry runs at once.
 *
 * A crash between the handler's effects and the `done` record is the one gap
 * a middleware cannot close on its own: the lease expires, the event is
 * redelivered and the effects run again (at-least-once). Close it by writing
 * the record in the same atomic step as the effects:
 * - `guard.commit(event, commands)` runs plain Redis commands and the record
 *   as one script;
 * - a handler with its own Lua script passes `guard.recordKey(event)` as one of
 *   its keys, starts with `if record starts with 'done' then return end`, and
 *   ends with `SET record 'done' PX guard.ttlMs` (see `RECORD_DONE`);
 * - with WATCH/MULTI, watch the record too and add the same SET to the MULTI.
 * The middleware then finds `done` after the handler and leaves it alone.
 */
import { randomBytes } from 'node:crypto';
import type { Handler, Middleware } from '../core/contract.ts';
import { BusyError, ConfigError } from '../core/errors.ts';
import type { Delivery } from '../core/event.ts';
import type { Args, RedisConnection } from '../redis/connection.ts';
import { loadScript, runScript } from '../redis/scripts.ts';

const folder = new URL('./lua/', import.meta.url);
const claimScript = loadScript('idempotent-claim', folder);
const finishScript = loadScript('idempotent-finish', folder);
const releaseScript = loadScript('idempotent-release', folder);
const commitScript = loadScript('idempotent-commit', folder);

/** The value of a record whose event was handled. Atomic handlers write it (or `done:<detail>`). */
export const RECORD_DONE = 'done';

export interface IdempotentOptions<T> {
  readonly conn: RedisConnection;
  /** Records are `<prefix>:<key>`, e.g. `payments:processed`. */
  readonly prefix: string;
  /** How long a handled event is remembered. Longer than any redelivery can come late. Default 24 h. */
  readonly ttlMs?: number;
  /**
   * How long an attempt holds the event before another may run it. Keep it at
   * or below the subscription's visibility timeout. Default 30 s.
   */
  readonly leaseMs?: number;
  /** The event's identity. Default: its CloudEvents id. */
  readonly keyOf?: (event: Delivery<T>) => string;
  /** Called for each delivery skipped because its event was handled already. */
  readonly onDuplicate?: (event: Delivery<T>) => void;
}

/** The middleware, plus what a handler needs to record its event atomically with its effects. */
export interface IdempotentMiddleware<T> extends Middleware<T> {
  /** The record key of this event. */
  recordKey(event: Delivery<T>): string;
  readonly ttlMs: number;
  /**
   * Applies `commands` and records the event as handled, atomically; applies
   * nothing when it was handled already. Resolves true when the effects were applied.
   */
  commit(event: Delivery<T>, commands: readonly Args[], detail?: string): Promise<boolean>;
  /** Whether the event was handled (its record says done). */
  isDone(event: Delivery<T>): Promise<boolean>;
}

/** Another attempt held the event's lease for longer than the middleware waits. */
export class IdempotencyLeaseError extends BusyError {}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Builds the idempotency middleware for `subscribe({ middleware: [guard] })`.
 *
 * @example
 * const guard = idempotent({ conn: backend.conn, prefix: 'billing:processed' });
 * backend.subscribe(orders, { group: 'billing', middleware: [guard] }, async (e) => {
 *   await guard.commit(e, [['HINCRBY', 'billing:charged', e.data.user, String(e.data.amount)]]);
 * });
 */
export function idempotent<T>(options: IdempotentOptions<T>): IdempotentMiddleware<T> {
  const { conn, prefix } = options;
  const ttlMs = options.ttlMs ?? 24 * 3_600_000;
  const leaseMs = options.leaseMs ?? 30_000;
  for (const [name, v] of [
    ['ttlMs', ttlMs],
    ['leaseMs', leaseMs],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new ConfigError(`idempotent: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (prefix === '') throw new ConfigError('idempotent: prefix is empty');
  const keyOf = options.keyOf ?? ((e: Delivery<T>) => e.id);
  const recordKey = (event: Delivery<T>): string => `${prefix}:${keyOf(event)}`;

  /** Takes the lease, waiting (up to twice its length) for another attempt to finish or expire. */
  async function claim(key: string, token: string): Promise<'claimed' | 'done'> {
    const deadline = Date.now() + 2 * leaseMs;
    for (;;) {
      const [status, detail] = await runScript<[string, string]>(
        conn,
        claimScript,
        [key],
        [token, String(leaseMs)],
      );
      if (status === 'claimed' || status === 'done') return status;
      if (Date.now() >= deadline) {
        throw new IdempotencyLeaseError(
          `idempotent: '${key}' is still leased by another attempt after ${2 * leaseMs} ms`,
        );
      }
      const left = Number(detail);
      await sleep(Math.min(Math.max(Number.isFinite(left) ? left : 50, 10), 250));
    }
  }

  const middleware = (next: Handler<T>): Handler<T> => {
    return async (event) => {
      const key = recordKey(event);
      const token = randomBytes(8).toString('hex');
      if ((await claim(key, token)) === 'done') {
        options.onDuplicate?.(event);
        return;
      }
      try {
        await next(event);
      } catch (e) {
        await runScript(conn, releaseScript, [key], [token]).catch(() => {});
        throw e;
      }
      await runScript(conn, finishScript, [key], [token, String(ttlMs)]);
    };
  };

  return Object.assign(middleware, {
    recordKey,
    ttlMs,
    async commit(event: Delivery<T>, commands: readonly Args[], detail?: string): Promise<boolean> {
      const args: string[] = [
        String(ttlMs),
        detail === undefined ? RECORD_DONE : `${RECORD_DONE}:${detail}`,
      ];
      for (const c of commands) args.push(String(c.length), ...c);
      const applied = await runScript<number>(conn, commitScript, [recordKey(event)], args);
      return Number(applied) === 1;
    },
    async isDone(event: Delivery<T>): Promise<boolean> {
      const v = await conn.send<string | null>(['GET', recordKey(event)]);
      return typeof v === 'string' && v.startsWith(RECORD_DONE);
    },
  });
}
