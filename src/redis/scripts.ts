/**
 * Lua scripts live in ./lua, one file each, with a header documenting KEYS,
 * ARGV and the reply. They run with EVALSHA; on NOSCRIPT (a restarted or
 * flushed Redis) they are sent once in full with EVAL.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RedisConnection, SendOptions } from './connection.ts';

export interface Script {
  readonly name: string;
  readonly source: string;
  readonly sha: string;
}

const cache = new Map<string, Script>();

/** Loads `lua/<name>.lua` (or another folder's file given by URL). */
export function loadScript(name: string, folder: URL = new URL('./lua/', import.meta.url)): Script {
  const path = fileURLToPath(new URL(`${name}.lua`, folder));
  let s = cache.get(path);
  if (!s) {
    const source = readFileSync(path, 'utf8');
    s = { name, source, sha: createHash('sha1').update(source).digest('hex') };
    cache.set(path, s);
  }
  return s;
}

function isNoScript(e: unknown): boolean {
  return e instanceof Error && e.message.startsWith('NOSCRIPT');
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
  try {
    return await conn.send<T>(['EVALSHA', script.sha, ...tail], opts);
  } catch (e) {
    if (!isNoScript(e)) throw e;
    return conn.send<T>(['EVAL', script.source, ...tail], opts);
  }
}
