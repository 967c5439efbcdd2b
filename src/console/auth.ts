/**
 * Bearer tokens and their rights. A token file (or HERALD_CONSOLE_TOKENS)
 * holds JSON:
 *
 *   { "tokens": [
 *       { "name": "checkout", "token": "…", "rights": ["publish:orders"] },
 *       { "name": "mailer",   "token": "…", "rights": ["consume:emails"] },
 *       { "name": "oncall",   "token": "…", "rights": ["read"] },
 *       { "name": "lead",     "token": "…", "rights": ["admin"] } ] }
 *
 * Rights: `publish:<topic>` and `consume:<group>` (`*` for any), `read` (every
 * read-only operator endpoint: overview, browse, tail, metrics) and `admin`
 * (everything, including resets, replays and purges).
 */
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.ts';

/** What a request needs. */
export type Need =
  | { readonly kind: 'none' }
  | { readonly kind: 'read' }
  | { readonly kind: 'admin' }
  | { readonly kind: 'publish'; readonly topic: string }
  | { readonly kind: 'consume'; readonly group: string };

export interface TokenEntry {
  readonly name: string;
  readonly token: string;
  readonly rights: readonly string[];
}

export interface Caller {
  /** The token's name; 'anonymous' when the server runs without tokens (loopback only). */
  readonly name: string;
  readonly rights: readonly string[];
}

const RIGHT = /^(read|admin|publish:[^\s]+|consume:[^\s]+)$/;
/** Shortest token accepted: guessing must stay out of reach. */
export const MIN_TOKEN_LENGTH = 16;

/** Parses a token file's JSON; ConfigError naming the problem. */
export function parseTokens(json: string, where: string): TokenEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw new ConfigError(`${where}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
  const list = (doc as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) throw new ConfigError(`${where}: expected {"tokens": [ … ]}`);
  return list.map((t: unknown, i) => {
    const e = t as Partial<TokenEntry> | null;
    if (typeof e?.token !== 'string' || e.token.length < MIN_TOKEN_LENGTH)
      throw new ConfigError(
        `${where}: tokens[${i}].token must be a string of ${MIN_TOKEN_LENGTH}+ characters`,
      );
    if (!Array.isArray(e.rights) || e.rights.some((r) => typeof r !== 'string' || !RIGHT.test(r)))
      throw new ConfigError(
        `${where}: tokens[${i}].rights must list read, admin, publish:<topic> or consume:<group>`,
      );
    return {
      name: typeof e.name === 'string' ? e.name : `token-${i}`,
      token: e.token,
      rights: e.rights,
    };
  });
}

/** Tokens from a file and/or the environment (HERALD_CONSOLE_TOKENS); empty when neither is set. */
export function loadTokens(file: string | undefined, env = process.env): TokenEntry[] {
  const out: TokenEntry[] = [];
  if (file !== undefined) out.push(...parseTokens(readFileSync(file, 'utf8'), file));
  const fromEnv = env.HERALD_CONSOLE_TOKENS;
  if (fromEnv !== undefined && fromEnv !== '')
    out.push(...parseTokens(fromEnv, 'HERALD_CONSOLE_TOKENS'));
  return out;
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Finds the caller of an Authorization header; undefined when the token is missing or wrong. */
export function authenticate(
  tokens: readonly TokenEntry[],
  header: string | undefined,
): Caller | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const given = m[1] as string;
  const hit = tokens.find((t) => sameText(t.token, given));
  return hit ? { name: hit.name, rights: hit.rights } : undefined;
}

/** Whether the caller's rights cover what the request needs. */
export function allows(caller: Caller, need: Need): boolean {
  const r = caller.rights;
  if (need.kind === 'none' || r.includes('admin')) return true;
  switch (need.kind) {
    case 'read':
      return r.includes('read');
    case 'admin':
      return false;
    case 'publish':
      return r.includes('publish:*') || r.includes(`publish:${need.topic}`);
    case 'consume':
      return r.includes('consume:*') || r.includes(`consume:${need.group}`);
  }
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}
