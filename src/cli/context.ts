/**
 * What every command that talks to Redis needs: the global options (`--url`,
 * `--prefix`, `--tls-*`), a connected backend that is closed when the command ends,
 * topics looked up by name in the registry, and errors printed without secrets.
 */
import { inspect } from 'node:util';
import type { Command } from 'commander';
import { errorMessage } from '../core/error-text.ts';
import { ConnectionError, HeraldError, NotFoundError } from '../core/errors.ts';
import { redactAll, redactUrl, secretsOf } from '../core/redact.ts';
import type { Topic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { DEFAULT_PREFIX } from '../redis/keys.ts';
import { DEFAULT_REDIS_URL } from '../redis/endpoint.ts';
import { tlsFromEnv, type TlsOptions } from '../redis/tls.ts';
import { readTopicRecords, topicOfRecord } from '../ops/inspect.ts';

export interface GlobalOptions {
  /** Redis URL; undefined: REDIS_URL, else redis://127.0.0.1:6379. */
  readonly url: string | undefined;
  readonly prefix: string;
  /** From --tls-* over REDIS_TLS_*; undefined when neither is given. */
  readonly tls: TlsOptions | undefined;
}

interface TlsFlags {
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsServername?: string;
}

/** Adds the TLS options every command that talks to Redis reads (see docs/security.md). */
export function addTlsOptions(program: Command): Command {
  return program
    .option(
      '--tls-ca <file>',
      'CA certificate to trust for rediss:// (default: $REDIS_TLS_CA_FILE)',
    )
    .option(
      '--tls-cert <file>',
      'client certificate for mutual TLS (default: $REDIS_TLS_CERT_FILE)',
    )
    .option('--tls-key <file>', "the client certificate's key (default: $REDIS_TLS_KEY_FILE)")
    .option(
      '--tls-servername <name>',
      "name the server's certificate must carry (default: $REDIS_TLS_SERVERNAME, else the host)",
    );
}

function tlsOf(flags: TlsFlags): TlsOptions | undefined {
  const tls: TlsOptions = {
    ...tlsFromEnv(),
    ...(flags.tlsCa !== undefined ? { ca: flags.tlsCa } : {}),
    ...(flags.tlsCert !== undefined ? { cert: flags.tlsCert } : {}),
    ...(flags.tlsKey !== undefined ? { key: flags.tlsKey } : {}),
    ...(flags.tlsServername !== undefined ? { servername: flags.tlsServername } : {}),
  };
  return Object.keys(tls).length > 0 ? tls : undefined;
}

/** The global options as seen from a (sub)command. */
export function globalOptions(cmd: Command): GlobalOptions {
  const o = cmd.optsWithGlobals<{ url?: string; prefix?: string } & TlsFlags>();
  return {
    url: o.url ?? process.env.REDIS_URL,
    prefix: o.prefix ?? DEFAULT_PREFIX,
    tls: tlsOf(o),
  };
}

/** The URL as shown to people: the password is masked, whatever characters it holds. */
export function displayUrl(url: string | undefined): string {
  return redactUrl(url ?? DEFAULT_REDIS_URL);
}

/**
 * Redis URLs this process was given (REDIS_URL, --url): their passwords are masked in
 * anything printed, even where a message quotes a password outside its URL.
 */
function givenSecrets(argv: readonly string[]): string[] {
  const urls = [process.env.REDIS_URL];
  argv.forEach((arg, i) => {
    if (arg === '--url') urls.push(argv[i + 1]);
    else if (arg.startsWith('--url=')) urls.push(arg.slice('--url='.length));
    else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) urls.push(arg);
  });
  return urls.flatMap((u) => secretsOf(u));
}

/**
 * An error as the CLI prints it: one line, or with HERALD_DEBUG=1 the whole error with its
 * stack and causes. Either way without credentials.
 */
export function printableError(err: unknown, argv: readonly string[], debug: boolean): string {
  const secrets = givenSecrets(argv);
  if (debug) return redactAll(inspect(err, { depth: 6 }), secrets);
  const message = errorMessage(err);
  return `herald: ${redactAll(message.split('\n')[0] ?? message, secrets)}`;
}

/** Connects; an unreachable Redis is one clear error naming the URL. */
export async function openBackend(cmd: Command): Promise<RedisBackend> {
  const { url, prefix, tls } = globalOptions(cmd);
  try {
    return await RedisBackend.connect({
      ...(url !== undefined ? { url } : {}),
      ...(tls !== undefined ? { tls } : {}),
      prefix,
    });
  } catch (e) {
    // Bad settings, a refused password or certificate: the error already says what to fix.
    if (e instanceof HeraldError && ['HERALD_CONFIG', 'HERALD_AUTH', 'HERALD_TLS'].includes(e.code))
      throw e;
    const reason = errorMessage(e).replace(/^connect to \S+: /, '');
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
