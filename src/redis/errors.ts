/** Maps node-redis errors onto Herald's typed errors. */
import {
  CapacityError,
  ClosedError,
  ConnectionError,
  HeraldError,
  PermissionError,
  RedisError,
  TimeoutError,
} from '../core/errors.ts';
import { isPermissionRefusal } from './permission.ts';

/**
 * A command that was sent got no reply within its timeout. node-redis's own
 * command timeout only covers the wait to be written (while offline), not the
 * wait for the reply, so the connection enforces this one itself.
 */
export class ReplyTimeoutError extends Error {
  constructor(command: string, timeoutMs: number) {
    super(`${command} got no reply within ${timeoutMs} ms`);
    this.name = 'ReplyTimeoutError';
  }
}

export function toHeraldError(e: unknown, what: string): HeraldError {
  if (e instanceof HeraldError) return e;
  const err = e instanceof Error ? e : new Error(String(e));
  const name = err.constructor.name;
  const msg = err.message;
  if (msg.startsWith('OOM')) {
    return new CapacityError(
      `${what}: Redis refused the write, it is out of memory (${msg})`,
      {},
      { cause: err },
    );
  }
  if (isPermissionRefusal(msg)) {
    return new PermissionError(`${what}: Redis refused it for this user (${msg})`, {
      command: what,
      cause: err,
    });
  }
  if (err instanceof ReplyTimeoutError) {
    return new TimeoutError(`${what}: ${msg}; the outcome is unknown`, { cause: err });
  }
  if (
    name === 'TimeoutError' ||
    name === 'CommandTimeoutDuringMaintenanceError' ||
    (name === 'AbortError' && /timeout/i.test(msg))
  ) {
    return new TimeoutError(`${what}: Redis did not answer in time; the outcome is unknown`, {
      cause: err,
    });
  }
  if (name === 'ClientClosedError')
    return new ClosedError(`${what}: the Redis client is closed`, { cause: err });
  if (
    name === 'SocketClosedUnexpectedlyError' ||
    name === 'ConnectionTimeoutError' ||
    name === 'ClientOfflineError' ||
    name === 'SocketTimeoutError' ||
    name === 'DisconnectsClientError' ||
    name === 'ReconnectStrategyError' ||
    name === 'RootNodesUnavailableError' ||
    (err as NodeJS.ErrnoException).code === 'ECONNREFUSED' ||
    (err as NodeJS.ErrnoException).code === 'ECONNRESET' ||
    msg.startsWith('LOADING') ||
    msg.startsWith('READONLY') ||
    msg.startsWith('MASTERDOWN') ||
    msg.startsWith('TRYAGAIN') ||
    msg.startsWith('CLUSTERDOWN')
  ) {
    return new ConnectionError(
      `${what}: connection to Redis failed (${msg}); the outcome is unknown`,
      { cause: err },
    );
  }
  return new RedisError(`${what}: ${msg}`, { cause: err });
}
