/**
 * Herald's Lua scripts as one Redis Functions library (Redis 7.0+), so that an
 * administrator installs the code once (`herald setup`, FUNCTION LOAD) and services
 * only call it (FCALL): a service needs no `eval`, so it cannot run Lua of its own.
 *
 * The library is built at load time from the script files themselves (every `.lua`
 * of the folders below, each with its KEYS/ARGV/return header): each file becomes
 * the body of one registered function, `callback = function(KEYS, ARGV) <file> end`,
 * and the helpers of lua/shared/helpers.lua are defined once above them.
 *
 * Versioned by content: the library is `herald_<hash8>` and its functions
 * `herald_<hash8>_<script>`, the hash covering everything that goes into it. Two
 * Herald versions therefore load two libraries side by side and each calls its own,
 * so a rolling upgrade keeps working; `herald setup --remove-old` drops the others
 * once every service runs the new version. Functions are persisted (RDB/AOF) and
 * replicated; in a Cluster each primary needs the library (setup loads it on all).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError, PermissionError } from '../core/errors.ts';
import type { RedisConnection } from './connection.ts';
import { isLibraryPresent, isPermissionRefusal, isUnknownCommand } from './error-kinds.ts';
import { toHeraldError } from './errors.ts';

/** Every folder holding Herald scripts: the library is the same whichever modules a process imports. */
export const SCRIPT_FOLDERS: readonly URL[] = [
  new URL('./lua/', import.meta.url),
  new URL('../ops/lua/', import.meta.url),
  new URL('../patterns/lua/', import.meta.url),
];

/** Helpers defined once for every function (and prepended to a script run with EVAL). */
export const HELPERS_FILE = new URL('./lua/shared/helpers.lua', import.meta.url);

/**
 * Scripts that may run while Redis is over maxmemory (the `allow-oom` flag). A function
 * without it is refused as a whole under OOM, while EVAL refused a script only at its first
 * memory-growing write before any other write. These are the scripts EVAL let through: their
 * first write frees or keeps memory (XACK, LREM, RPOP, XTRIM, DEL, XGROUP DELCONSUMER) or
 * they usually write nothing (group-create, when the group exists).
 */
export const ALLOW_OOM: ReadonlySet<string> = new Set([
  'consumer-remove',
  'group-create',
  'dead-letter',
  'queue-ack',
  'queue-fail',
  'queue-reap',
  'queue-take',
  'retention-trim',
  'idempotent-release',
  // Ordered subscriptions keep owning, acknowledging and handing partitions over under OOM
  // (consumers drain a full Redis): small writes, or writes that free memory.
  'ordered-ack',
  'ordered-claim',
  'ordered-dead-letter',
  'ordered-members',
  'ordered-read',
  'partition-acquire',
  'partition-release',
  'partition-renew',
]);

export const LIBRARY_PREFIX = 'herald_';

export interface HeraldLibrary {
  /** `herald_<hash8>` */
  readonly name: string;
  /** The full FUNCTION LOAD payload. */
  readonly source: string;
  /** Function name by script file path. */
  readonly functions: ReadonlyMap<string, string>;
  /** The shared helpers' source, for scripts run with EVAL. */
  readonly helpers: string;
}

function luaFiles(folder: URL): string[] {
  return readdirSync(folder, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.lua'))
    .map((e) => fileURLToPath(new URL(e.name, folder)))
    .sort();
}

function scriptName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1, -'.lua'.length);
}

/** Function names allow letters, digits and underscores. */
function functionSuffix(script: string): string {
  return script.replace(/[^A-Za-z0-9_]/g, '_');
}

/** Builds the library from the script files (pure: same files, same library). */
export function buildLibrary(
  folders: readonly URL[] = SCRIPT_FOLDERS,
  helpersFile: URL = HELPERS_FILE,
): HeraldLibrary {
  const helpers = readFileSync(helpersFile, 'utf8');
  const scripts = folders.flatMap(luaFiles).map((path) => ({
    path,
    name: scriptName(path),
    source: readFileSync(path, 'utf8'),
  }));
  const seen = new Set<string>();
  for (const s of scripts) {
    const suffix = functionSuffix(s.name);
    if (seen.has(suffix)) throw new ConfigError(`two Herald scripts are named '${s.name}'`);
    seen.add(suffix);
  }
  const body = (fnPrefix: string): string =>
    [
      helpers,
      ...scripts.map((s) => {
        const flags = ALLOW_OOM.has(s.name) ? "'allow-oom'" : '';
        return (
          `-- ${s.name}.lua\n` +
          `redis.register_function{function_name='${fnPrefix}${functionSuffix(s.name)}', ` +
          `flags={${flags}}, callback=function(KEYS, ARGV)\n${s.source}\nend}\n`
        );
      }),
    ].join('\n');
  // The hash covers the body with a placeholder name, so it names exactly this code.
  const hash = createHash('sha1').update(body('herald_?_')).digest('hex').slice(0, 8);
  const name = `${LIBRARY_PREFIX}${hash}`;
  const fnPrefix = `${name}_`;
  return {
    name,
    source: `#!lua name=${name}\n${body(fnPrefix)}`,
    functions: new Map(scripts.map((s) => [s.path, `${fnPrefix}${functionSuffix(s.name)}`])),
    helpers,
  };
}

let built: HeraldLibrary | undefined;

/** This Herald version's library (built once per process). */
export function heraldLibrary(): HeraldLibrary {
  built ??= buildLibrary();
  return built;
}

/**
 * What FUNCTION LOAD did: `loaded` now, `present` already (same version), `denied` (this
 * user may not load functions: an administrator runs `herald setup`), `unsupported`
 * (Redis before 7.0, or functions disabled: scripts run with EVAL).
 */
export type InstallOutcome = 'loaded' | 'present' | 'denied' | 'unsupported';

/** Runs a FUNCTION LOAD and says what it did. */
async function loadWith(
  send: () => Promise<unknown>,
  library: HeraldLibrary,
): Promise<InstallOutcome> {
  try {
    await send();
    return 'loaded';
  } catch (e) {
    if (e instanceof PermissionError || isPermissionRefusal(e)) return 'denied';
    if (isLibraryPresent(e)) return 'present';
    if (isUnknownCommand(e, 'function')) return 'unsupported';
    throw toHeraldError(e, `load the Herald functions library ${library.name}`);
  }
}

/** Loads the library on the node serving `key` (any node when undefined). */
export function installLibrary(
  conn: RedisConnection,
  key?: string,
  library: HeraldLibrary = heraldLibrary(),
): Promise<InstallOutcome> {
  return loadWith(() => conn.send(['FUNCTION', 'LOAD', library.source], { key }), library);
}

/** Loads the library on one node. */
export function installLibraryOn(
  node: NodeSender,
  library: HeraldLibrary = heraldLibrary(),
): Promise<InstallOutcome> {
  return loadWith(() => node.send(['FUNCTION', 'LOAD', library.source]), library);
}

interface ClusterLike {
  readonly masters: readonly { readonly host?: string; readonly port?: number }[];
  nodeClient(node: unknown): Promise<{ sendCommand(args: string[]): Promise<unknown> }>;
}

/** Something that sends one command to one node. */
export interface NodeSender {
  readonly address: string;
  send(args: string[]): Promise<unknown>;
}

/** The primaries to install on: every master of a Cluster, else the one connection. */
export async function primaries(conn: RedisConnection): Promise<NodeSender[]> {
  if (conn.kind !== 'cluster') return [{ address: conn.kind, send: (args) => conn.send(args) }];
  const cluster = conn.raw as ClusterLike;
  return Promise.all(
    cluster.masters.map(async (m) => {
      const client = await cluster.nodeClient(m);
      return {
        address: `${m.host ?? '?'}:${m.port ?? '?'}`,
        send: (args: string[]) => client.sendCommand(args),
      };
    }),
  );
}

/** Herald libraries loaded on a node (any version), by name. */
export async function heraldLibrariesOn(node: NodeSender): Promise<string[]> {
  const reply = await node.send(['FUNCTION', 'LIST', 'LIBRARYNAME', `${LIBRARY_PREFIX}*`]);
  const names: string[] = [];
  for (const lib of Array.isArray(reply) ? (reply as unknown[]) : []) {
    const name = libraryNameOf(lib);
    if (name !== undefined && name.startsWith(LIBRARY_PREFIX)) names.push(name);
  }
  return names.sort();
}

/** FUNCTION LIST entries are maps (RESP3) or flat lists (RESP2). */
function libraryNameOf(entry: unknown): string | undefined {
  if (Array.isArray(entry)) {
    const at = entry.indexOf('library_name');
    const v: unknown = at >= 0 ? entry[at + 1] : undefined;
    return typeof v === 'string' ? v : undefined;
  }
  if (entry !== null && typeof entry === 'object') {
    const v = (entry as Record<string, unknown>).library_name;
    return typeof v === 'string' ? v : undefined;
  }
  return undefined;
}
