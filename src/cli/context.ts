/**
 * What every command that talks to Redis needs: the global options (`--url`,
 * `--prefix`), a connected backend that is closed when the command ends, and
 * topics looked up by name in the registry.
 */
import type { Command } from 'commander';
import { ConnectionError, HeraldError, NotFoundError } from '../core/errors.ts';
import type { Topic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { DEFAULT_PREFIX } from '../redis/keys.ts';
import { readTopicRecords, topicOfRecord } from '../ops/inspect.ts';

export interface GlobalOptions {
  /** Redis URL; undefined: REDIS_URL, else redis://127.0.0.1:6379. */
  readonly url: string | undefined;
  readonly prefix: string;
}

/** The global options as seen from a (sub)command. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<{ url?: string; prefix?: string }>();
  return { url: o.url ?? process.env.REDIS_URL, prefix: o.prefix ?? DEFAULT_PREFIX };
}

/** The URL as shown to people: the password is masked. */
export function displayUrl(url: string | undefined): string {
  const u = url ?? 'redis://127.0.0.1:6379';
  return u.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** Connects; an unreachable Redis is one clear error naming the URL. */
export async function openBackend(cmd: Command): Promise<RedisBackend> {
  const { url, prefix } = globalOptions(cmd);
  try {
    return await RedisBackend.connect({ ...(url !== undefined ? { url } : {}), prefix });
  } catch (e) {
    if (e instanceof HeraldError && e.code === 'HERALD_CONFIG') throw e;
    const reason = e instanceof Error ? e.message.replace(/^connect to \S+: /, '') : String(e);
    throw new ConnectionError(
      `cannot connect to Redis at ${displayUrl(url)} (${reason}); set --url or REDIS_URL`,
      { cause: e },
    );
  }
}

/** Runs `fn` with a connected backend and closes it afterwards, whatever happens. */
export async function withBackend<T>(
  cmd: Command,
  fn: (backend: RedisBackend) => Promise<T>,
): Promise<T> {
  const backend = await openBackend(cmd);
  try {
    return await fn(backend);
  } finally {
    await backend.close({ deadlineMs: 1000 }).catch(() => backend.conn.destroy());
  }
}

/** The topic of that name from the registry; NotFoundError listing the known topics otherwise. */
export async function resolveTopic(backend: RedisBackend, name: string): Promise<Topic<unknown>> {
  const records = await readTopicRecords(backend.conn, backend.prefix);
  const record = records.find((r) => r.name === name);
  if (record) return topicOfRecord(record);
  throw new NotFoundError(
    `unknown topic '${name}' under prefix '${backend.prefix}': ` +
      (records.length > 0
        ? `known topics are ${listSome(records.map((r) => r.name))}`
        : 'no topics are registered (check --prefix and --url)'),
  );
}

/** "a, b, c" — or the first 20 and how many more, so the error stays one readable line. */
function listSome(names: readonly string[], max = 20): string {
  if (names.length <= max) return names.join(', ');
  return `${names.slice(0, max).join(', ')} and ${names.length - max} more (see herald topics)`;
}
