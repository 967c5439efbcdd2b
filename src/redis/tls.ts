/**
 * TLS settings for the connections to Redis: from the `tls` connection option, else from the
 * environment (REDIS_TLS_*), turned into node-redis socket options that are merged with
 * Herald's own (reconnect strategy, connect timeout), never instead of them.
 *
 * TLS is on when the URL's scheme says so (`rediss://`, `rediss+sentinel://`,
 * `rediss+cluster://`); TLS settings given with a plain `redis://` URL are a ConfigError
 * rather than a silent plain-text connection or a silent switch to TLS.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../core/errors.ts';

export interface TlsOptions {
  /** CA certificate(s) the server's certificate must chain to: PEM text or a file path. Default: Node's bundled CAs. */
  readonly ca?: string | Buffer;
  /** Client certificate for mutual TLS: PEM text or a file path. Needs `key`. */
  readonly cert?: string | Buffer;
  /** The client certificate's private key: PEM text or a file path. */
  readonly key?: string | Buffer;
  /** The name the server's certificate must carry (and SNI). Default: the host connected to. */
  readonly servername?: string;
  /** Default true. False accepts any server certificate: never in production. */
  readonly rejectUnauthorized?: boolean;
}

/** The environment variables read when the `tls` option is not given (each a file path, or the server name). */
export const TLS_ENV = {
  ca: 'REDIS_TLS_CA_FILE',
  cert: 'REDIS_TLS_CERT_FILE',
  key: 'REDIS_TLS_KEY_FILE',
  servername: 'REDIS_TLS_SERVERNAME',
} as const;

/** Socket options for node-redis (and so for Node's `tls.connect`). */
export interface TlsSocketOptions {
  readonly tls: true;
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly servername?: string;
  readonly rejectUnauthorized?: boolean;
}

/** TLS settings from REDIS_TLS_* variables; undefined when none is set. */
export function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): TlsOptions | undefined {
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const settings: TlsOptions = {
    ...(read(TLS_ENV.ca) !== undefined ? { ca: read(TLS_ENV.ca) } : {}),
    ...(read(TLS_ENV.cert) !== undefined ? { cert: read(TLS_ENV.cert) } : {}),
    ...(read(TLS_ENV.key) !== undefined ? { key: read(TLS_ENV.key) } : {}),
    ...(read(TLS_ENV.servername) !== undefined ? { servername: read(TLS_ENV.servername) } : {}),
  };
  return Object.keys(settings).length > 0 ? settings : undefined;
}

/** PEM text is used as given; anything else is a file to read. */
function pem(what: string, value: string | Buffer): string | Buffer {
  if (Buffer.isBuffer(value) || value.includes('-----BEGIN')) return value;
  try {
    return readFileSync(value);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new ConfigError(`cannot read the TLS ${what} file '${value}' (${code})`, { cause: e });
  }
}

/**
 * The TLS socket options for a connection, or undefined for plain TCP. `given` wins over the
 * environment as a whole (no mixing of an option's CA with another variable's key).
 */
export function tlsSocketOptions(
  urlWantsTls: boolean,
  given: TlsOptions | undefined,
  env: NodeJS.ProcessEnv = process.env,
): TlsSocketOptions | undefined {
  const fromEnv = given === undefined ? tlsFromEnv(env) : undefined;
  const settings = given ?? fromEnv;
  if (!urlWantsTls) {
    if (settings === undefined) return undefined;
    const source =
      given !== undefined
        ? 'the tls option is set'
        : `${Object.values(TLS_ENV)
            .filter((n) => env[n])
            .join(', ')} set`;
    throw new ConfigError(
      `TLS settings given (${source}) but the Redis URL is plain TCP: use rediss:// ` +
        '(or rediss+sentinel://, rediss+cluster://)',
    );
  }
  const s = settings ?? {};
  if ((s.cert === undefined) !== (s.key === undefined)) {
    throw new ConfigError(
      `TLS client certificate and key go together: ${s.cert === undefined ? 'cert' : 'key'} is missing ` +
        `(tls.cert and tls.key, ${TLS_ENV.cert} and ${TLS_ENV.key}, or --tls-cert and --tls-key)`,
    );
  }
  return {
    tls: true,
    ...(s.ca !== undefined ? { ca: pem('CA', s.ca) } : {}),
    ...(s.cert !== undefined ? { cert: pem('certificate', s.cert) } : {}),
    ...(s.key !== undefined ? { key: pem('key', s.key) } : {}),
    ...(s.servername !== undefined ? { servername: s.servername } : {}),
    ...(s.rejectUnauthorized !== undefined ? { rejectUnauthorized: s.rejectUnauthorized } : {}),
  };
}
