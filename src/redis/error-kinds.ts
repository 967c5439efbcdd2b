/**
 * The one place that recognises the Redis errors Herald acts on, behind named predicates:
 *
 * - client-side conditions by the classes node-redis exports (`instanceof`, never a
 *   constructor's name: node-redis does not set `name`, so every one is called 'Error');
 * - the server's error replies (node-redis's ErrorReply) by their code, the reply's first
 *   word (NOGROUP, OOM, NOPERM, …), and the few that share the generic ERR code by their text;
 * - socket failures by Node's error codes.
 *
 * Every protocol string Herald tests is written here once; the rest of Herald asks these
 * predicates. errors.ts maps what they recognise onto Herald's typed errors.
 */
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  DisconnectsClientError,
  ErrorReply,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutDuringMaintenanceError,
  SocketTimeoutError,
  TimeoutError,
  WatchError,
} from 'redis';

/** The code of a server error reply (its first word: 'NOGROUP', 'OOM', 'ERR'); undefined for any other value. */
export function replyCode(e: unknown): string | undefined {
  if (!(e instanceof ErrorReply)) return undefined;
  return e.message.split(' ', 1)[0];
}

/** The text of a server error reply, '' for any other value. */
function replyText(e: unknown): string {
  return e instanceof ErrorReply ? e.message : '';
}

// ---- server replies ---------------------------------------------------------

/** The stream or the consumer group does not exist (XREADGROUP, XACK, XCLAIM, … on a vanished key). */
export function isNoGroup(e: unknown): boolean {
  return replyCode(e) === 'NOGROUP';
}

/**
 * An ordered subscription's fenced script refused the work of an instance that no longer owns
 * the partition (the 'FENCED' reply of fence() in lua/shared/helpers.lua).
 */
export function isFenced(e: unknown): boolean {
  return replyCode(e) === 'FENCED';
}

/** EVALSHA of a script this Redis does not hold (restarted, SCRIPT FLUSH, another node). */
export function isNoScript(e: unknown): boolean {
  return replyCode(e) === 'NOSCRIPT';
}

/** Redis is over maxmemory and refuses writes (maxmemory-policy noeviction). */
export function isOutOfMemory(e: unknown): boolean {
  return replyCode(e) === 'OOM';
}

/** FCALL of a function this Redis does not hold (its library is not loaded). */
export function isFunctionMissing(e: unknown): boolean {
  return /^ERR Function not found/i.test(replyText(e));
}

/** FUNCTION LOAD of a library that is loaded already. */
export function isLibraryPresent(e: unknown): boolean {
  return /^ERR Library '[^']*' already exists/.test(replyText(e));
}

/**
 * Redis does not know `command` (before 7.0, or renamed away), as opposed to an error inside a
 * script. Also true for an unknown subcommand (FUNCTION without LOAD). Redis 7 quotes the name
 * 'so', Redis 6 `so`.
 */
export function isUnknownCommand(e: unknown, command: string): boolean {
  const text = replyText(e).toLowerCase();
  return (
    text.startsWith(`err unknown command '${command.toLowerCase()}'`) ||
    text.startsWith(`err unknown command \`${command.toLowerCase()}\``) ||
    text.startsWith('err unknown subcommand')
  );
}

/**
 * An ACL refusal: NOPERM for a command or key the user may not use, or the text Redis sends when
 * a command inside a function or script is refused.
 */
export function isPermissionRefusal(e: unknown): boolean {
  return (
    replyCode(e) === 'NOPERM' || replyText(e).includes('The user executing the script can') // under the ERR code
  );
}

/** Redis refused the credentials: retrying with the same ones cannot help. */
export function isAuthFailure(e: unknown): boolean {
  const code = replyCode(e);
  return (
    code === 'WRONGPASS' ||
    code === 'NOAUTH' ||
    /^ERR (AUTH|invalid password|Client sent AUTH)/i.test(replyText(e))
  );
}

/**
 * Replies of a node that cannot serve the command now but will soon: loading its data, a replica
 * (after a failover), a replica cut from its master, a Cluster resharding or down.
 */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  'LOADING',
  'READONLY',
  'MASTERDOWN',
  'TRYAGAIN',
  'CLUSTERDOWN',
]);

/** The node cannot serve the command now (LOADING, READONLY, MASTERDOWN, TRYAGAIN, CLUSTERDOWN). */
export function isNodeUnavailable(e: unknown): boolean {
  const code = replyCode(e);
  return code !== undefined && UNAVAILABLE_CODES.has(code);
}

/**
 * A Cluster refused the command because its slot is being migrated, without running it: TRYAGAIN
 * (a command on several keys of a slot, some moved already, some not), or node-redis's own
 * "Cannot find node <address>" when an ASK redirect names a node its slot map does not hold yet
 * (a node that just joined). Sending the command again a little later is safe and succeeds once
 * the keys are together or the node is known.
 */
export function isRefusedDuringMigration(e: unknown): boolean {
  if (replyCode(e) === 'TRYAGAIN') return true;
  return (
    e instanceof Error && !(e instanceof ErrorReply) && /^Cannot find node \S+$/.test(e.message)
  );
}

// ---- client-side conditions -------------------------------------------------

/** The node-redis client was closed (by Herald, or by a close() racing the command). */
export function isClientClosed(e: unknown): boolean {
  return e instanceof ClientClosedError;
}

/** node-redis's cluster reached none of its root nodes. */
export function isRootNodesUnavailable(e: unknown): boolean {
  return e instanceof RootNodesUnavailableError;
}

/** A WATCHed key changed before EXEC: the transaction did not run. */
export function isWatchConflict(e: unknown): boolean {
  return e instanceof WatchError;
}

/** node-redis gave up waiting on a command (its own timeout); the command may still run. */
export function isClientTimeout(e: unknown): boolean {
  // SocketTimeoutDuringMaintenanceError is a TimeoutError of the socket, not of a command.
  return e instanceof TimeoutError && !(e instanceof SocketTimeoutDuringMaintenanceError);
}

/** Node's codes for a refused or reset TCP connection. */
const SOCKET_FAILURE_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'ECONNRESET']);

/** The connection is down or could not be made: refused, reset, closed, timed out, offline. */
export function isConnectionLost(e: unknown): boolean {
  return (
    e instanceof SocketClosedUnexpectedlyError ||
    e instanceof ConnectionTimeoutError ||
    e instanceof ClientOfflineError ||
    e instanceof SocketTimeoutError ||
    e instanceof SocketTimeoutDuringMaintenanceError ||
    e instanceof DisconnectsClientError ||
    e instanceof ReconnectStrategyError ||
    e instanceof RootNodesUnavailableError ||
    SOCKET_FAILURE_CODES.has(errnoCode(e) ?? '')
  );
}

/**
 * A TLS handshake that fails the same way on every attempt (untrusted or mismatched
 * certificate, no client certificate, TLS spoken to a plain port, bad key), by Node's error
 * codes: retrying cannot help, so a connect gives up at once.
 */
export function isTlsFailure(e: unknown): boolean {
  const code = errnoCode(e);
  if (code === undefined) return false;
  return (
    /^ERR_(SSL|TLS|OSSL)_/.test(code) ||
    /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|HOSTNAME_MISMATCH/.test(code)
  );
}

/** An error that every connect attempt would meet again: a connect gives up at once on it. */
export function isPermanentConnectFailure(e: unknown): boolean {
  return isAuthFailure(e) || isTlsFailure(e);
}

/** Node's error code of a socket or TLS error ('ECONNREFUSED', 'ERR_SSL_…'), if any. */
export function errnoCode(e: unknown): string | undefined {
  const code = (e as NodeJS.ErrnoException | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
