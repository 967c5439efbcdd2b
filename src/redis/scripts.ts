/**
 * Lua scripts live in ./lua (and ops/lua, patterns/lua), one file each, with a header
 * documenting KEYS, ARGV and the reply. They run as functions of Herald's functions
 * library (see functions.ts): FCALL, no `eval` right needed.
 *
 * - The library is missing (a new Herald version, a Redis restarted without
 *   persistence, a new Cluster node): it is loaded (FUNCTION LOAD) when this user may,
 *   and the call repeated; when the user may not, a ScriptsNotInstalledError says to
 *   run `herald setup`.
 * - Redis has no functions (before 7.0, or FCALL disabled): the connection falls back to
 *   EVALSHA with the script sent once in full on NOSCRIPT, as before; that needs `eval`.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../core/errors.ts';
import type { RedisConnection, SendOptions } from './connection.ts';
import { isFunctionMissing, isNoScript, isUnknownCommand } from './error-kinds.ts';
import { heraldLibrary, installLibrary } from './functions.ts';

export interface Script {
  readonly name: string;
  /** The source sent with EVAL: the shared helpers, then the file. */
  readonly source: string;
  readonly sha: string;
  /** Its function in Herald's library; undefined for a script outside the library's folders. */
  readonly functionName: string | undefined;
}

/** The library is not on this Redis and this user may not load it. */
export class ScriptsNotInstalledError extends ConfigError {
  constructor(library: string, options?: { cause?: unknown }) {
    super(
      `Herald's Redis functions (library ${library}) are not installed on this Redis and this ` +
        `user may not install them (FUNCTION LOAD refused): run 'herald setup --url <admin url>' ` +
        `once per Redis and after each Herald upgrade`,
      options,
    );
  }
}

const cache = new Map<string, Script>();

/** Loads `lua/<name>.lua` (or another folder's file given by URL). */
export function loadScript(name: string, folder: URL = new URL('./lua/', import.meta.url)): Script {
  const path = fileURLToPath(new URL(`${name}.lua`, folder));
  let s = cache.get(path);
  if (!s) {
    const library = heraldLibrary();
    const source = `${library.helpers}\n${readFileSync(path, 'utf8')}`;
    s = {
      name,
      source,
      sha: createHash('sha1').update(source).digest('hex'),
      functionName: library.functions.get(path),
    };
    cache.set(path, s);
  }
  return s;
}

/** Connections on which FCALL is unknown (Redis before 7.0): they run scripts with EVAL. */
const evalOnly = new WeakSet<RedisConnection>();

async function evalScript<T>(
  conn: RedisConnection,
  script: Script,
  tail: readonly string[],
  opts: SendOptions,
): Promise<T> {
  try {
    return await conn.send<T>(['EVALSHA', script.sha, ...tail], opts);
  } catch (e) {
    if (!isNoScript(e)) throw e;
    return conn.send<T>(['EVAL', script.source, ...tail], opts);
  }
}

export async function runScript<T>(
  conn: RedisConnection,
  script: Script,
  keys: readonly string[],
  args: readonly string[],
  options?: SendOptions,
): Promise<T> {
  const tail = [String(keys.length), ...keys, ...args];
  const opts = { ...options, key: keys[0] };
  const fn = script.functionName;
  if (fn === undefined || evalOnly.has(conn)) return evalScript<T>(conn, script, tail, opts);
  try {
    return await conn.send<T>(['FCALL', fn, ...tail], opts);
  } catch (e) {
    if (isUnknownCommand(e, 'fcall')) {
      evalOnly.add(conn);
      return evalScript<T>(conn, script, tail, opts);
    }
    if (!isFunctionMissing(e)) throw e;
    // Loaded on the node that answered (routed by the same key in a Cluster).
    const outcome = await installLibrary(conn, keys[0]);
    if (outcome === 'denied')
      throw new ScriptsNotInstalledError(heraldLibrary().name, { cause: e });
    if (outcome === 'unsupported') {
      evalOnly.add(conn);
      return evalScript<T>(conn, script, tail, opts);
    }
    return conn.send<T>(['FCALL', fn, ...tail], opts);
  }
}
