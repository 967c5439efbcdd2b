/**
 * ACL refusals as typed errors. Redis says NOPERM for a command or key the user may not
 * use, and "ERR The user executing the script can't …" when a command inside a function or
 * script is refused. Neither names the key, so the error is built where the command is
 * known: the connection maps it with the command's name and first key.
 */
import { PermissionError } from '../core/errors.ts';
import type { Args } from './connection.ts';
import { isPermissionRefusal } from './error-kinds.ts';

/** Commands whose first argument is a subcommand that ACL rules name (`xinfo|groups`). */
const WITH_SUBCOMMAND = new Set([
  'XINFO',
  'XGROUP',
  'CONFIG',
  'CLIENT',
  'FUNCTION',
  'MEMORY',
  'SCRIPT',
  'ACL',
  'OBJECT',
  'CLUSTER',
  'FCALL',
  'FCALL_RO',
]);

/** 'XADD', 'XINFO GROUPS', 'FCALL herald_1a2b3c4d_dead_letter'. */
export function describeCommand(args: Args): string {
  const name = (args[0] ?? '').toUpperCase();
  const sub = args[1];
  if (!WITH_SUBCOMMAND.has(name) || sub === undefined) return name;
  return name.startsWith('FCALL') ? `${name} ${sub}` : `${name} ${sub.toUpperCase()}`;
}

/** A PermissionError when `e` is an ACL refusal of `args`; `e` itself otherwise. */
export function asPermissionError(e: unknown, args: Args, key: string | undefined): unknown {
  if (!(e instanceof Error) || !isPermissionRefusal(e)) return e;
  const command = describeCommand(args);
  return new PermissionError(
    `Redis refused ${command}${key !== undefined ? ` on key '${key}'` : ''} for this user ` +
      `(${e.message.trim()}); grant the right with herald acl (docs/security.md)`,
    { command, key, cause: e },
  );
}
