/** Maps node-redis errors onto Herald's typed errors. */
import {
  AuthError,
  CapacityError,
  ClosedError,
  ConnectionError,
  HeraldError,
  PermissionError,
  RedisError,
  TimeoutError,
  TlsError,
} from '../core/errors.ts';
import { redactError, redactText } from '../core/redact.ts';
import { toError } from '../core/error-text.ts';
import {
  errnoCode,
  isAuthFailure,
  isClientClosed,
  isClientTimeout,
  isConnectionLost,
  isNodeUnavailable,
  isOutOfMemory,
  isPermissionRefusal,
  isTlsFailure,
} from './error-kinds.ts';

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

/** Maps an error from node-redis (recognised by error-kinds.ts) onto Herald's typed errors. */
export function toHeraldError(e: unknown, what: string): HeraldError {
  if (e instanceof HeraldError) return e;
  const err = toError(e);
  // Another library's message or stack may quote a URL with its password: mask it before
  // it is wrapped, so that printing the wrapper and its cause shows none.
  redactError(err);
  const msg = redactText(err.message);
  if (isAuthFailure(err)) {
    return new AuthError(
      `${what}: Redis refused the credentials (${msg}); check the password and user of the URL`,
      { cause: err },
    );
  }
  if (isTlsFailure(err)) {
    return new TlsError(`${what}: TLS handshake failed (${tlsReason(err)})`, { cause: err });
  }
  if (isOutOfMemory(err)) {
    return new CapacityError(
      `${what}: Redis refused the write, it is out of memory (${msg})`,
      {},
      { cause: err },
    );
  }
  if (isPermissionRefusal(err)) {
    return new PermissionError(`${what}: Redis refused it for this user (${msg})`, {
      command: what,
      cause: err,
    });
  }
  if (err instanceof ReplyTimeoutError) {
    return new TimeoutError(`${what}: ${msg}; the outcome is unknown`, { cause: err });
  }
  if (isClientTimeout(err)) {
    return new TimeoutError(`${what}: Redis did not answer in time; the outcome is unknown`, {
      cause: err,
    });
  }
  if (isClientClosed(err))
    return new ClosedError(`${what}: the Redis client is closed`, { cause: err });
  if (isConnectionLost(err) || isNodeUnavailable(err)) {
    return new ConnectionError(
      `${what}: connection to Redis failed (${msg}); the outcome is unknown`,
      { cause: err },
    );
  }
  return new RedisError(`${what}: ${msg}`, { cause: err });
}

/** One line on what went wrong in a TLS handshake, and what to check. */
function tlsReason(err: Error): string {
  const code = errnoCode(err) ?? '';
  const first = err.message.split('\n')[0] ?? err.message;
  if (/SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|CERT_UNTRUSTED|CERT_SIGNATURE/.test(code))
    return `${code}: the server's certificate is not signed by a trusted CA; pass its CA with tls.ca, REDIS_TLS_CA_FILE or --tls-ca`;
  if (/ALTNAME|HOSTNAME_MISMATCH/.test(code))
    return `${code}: the server's certificate names another host; set tls.servername, REDIS_TLS_SERVERNAME or --tls-servername`;
  if (/CERTIFICATE_REQUIRED|HANDSHAKE_FAILURE|BAD_CERTIFICATE|UNKNOWN_CA/.test(code))
    return `${code}: the server refused the client certificate (or got none); pass tls.cert and tls.key signed by a CA the server trusts`;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|RECORD_LAYER/.test(code))
    return `${code}: the server does not speak TLS on this port; use redis:// or the server's TLS port`;
  if (/EXPIRED|NOT_YET_VALID/.test(code))
    return `${code}: a certificate is outside its validity period`;
  return code !== '' ? `${code}: ${first.trim()}` : first.trim();
}
