/**
 * Reads a Redis URL into what the clients need: which topology, its hosts, TLS or not,
 * and the credentials, which are then passed to node-redis as options and never inside a
 * URL. Parsed by hand rather than by `new URL`: a password written raw ("p@ss/w:rd")
 * must work, and no error may quote it (errors show the URL through `redactUrl`).
 *
 *   redis[s]://[[user]:password@]host[:port][/db]
 *   redis[s]+sentinel://[[user]:password@]host[:port][,host[:port]…]/masterName
 *   redis[s]+cluster://[[user]:password@]host[:port][,host[:port]…]
 *
 * `rediss` means TLS. The credentials of a Sentinel URL are the data nodes' (the master's),
 * not the sentinels'.
 */
import { ConfigError } from '../core/errors.ts';
import { redactUrl } from '../core/redact.ts';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
export const DEFAULT_REDIS_PORT = 6379;
export const DEFAULT_SENTINEL_PORT = 26379;
const MAX_PORT = 65535;

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface Credentials {
  readonly username?: string;
  readonly password?: string;
}

export interface RedisEndpoint {
  readonly kind: 'standalone' | 'sentinel' | 'cluster';
  /** The scheme asks for TLS (`rediss`, `rediss+sentinel`, `rediss+cluster`). */
  readonly tls: boolean;
  readonly credentials: Credentials;
  /** One host for standalone; the sentinels, or the cluster's root nodes. */
  readonly hosts: readonly HostPort[];
  /** Standalone: the database number of the path, if any. */
  readonly database?: number;
  /** Sentinel: the master's name. */
  readonly masterName?: string;
}

const SCHEME = /^(rediss?)(?:\+(sentinel|cluster))?:\/\//i;

function decodePart(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text; // a raw '%' in a password: take it as written
  }
}

function credentialsOf(userInfo: string | undefined): Credentials {
  if (userInfo === undefined || userInfo === '') return {};
  const colon = userInfo.indexOf(':');
  // node-redis reads `user@host` as a username without password; keep that meaning.
  const username = decodePart(colon < 0 ? userInfo : userInfo.slice(0, colon));
  const password = colon < 0 ? undefined : decodePart(userInfo.slice(colon + 1));
  return {
    ...(username !== '' ? { username } : {}),
    ...(password !== undefined && password !== '' ? { password } : {}),
  };
}

function hostPort(text: string, defaultPort: number, shown: string): HostPort {
  // [::1]:6379 (IPv6 in brackets), host:port, or host alone.
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+))(?::(\d+))?$/.exec(text);
  const host = m?.[1] ?? m?.[2];
  const port = m?.[3] === undefined ? defaultPort : Number(m[3]);
  if (host === undefined || !Number.isInteger(port) || port < 1 || port > MAX_PORT) {
    throw new ConfigError(`Redis URL '${shown}': '${text}' is not host:port`);
  }
  return { host, port };
}

/** Parses a Redis URL; ConfigError (showing the URL redacted) when it cannot work. */
export function parseRedisUrl(url: string): RedisEndpoint {
  const shown = redactUrl(url);
  const scheme = SCHEME.exec(url);
  if (!scheme) {
    throw new ConfigError(
      `Redis URL '${shown}' is not redis://, rediss://, redis+sentinel:// or redis+cluster://`,
    );
  }
  const tls = scheme[1]?.toLowerCase() === 'rediss';
  const kind = (scheme[2]?.toLowerCase() ?? 'standalone') as RedisEndpoint['kind'];
  const rest = url.slice(scheme[0].length);
  // The credentials end at the last '@': a raw '@' or '/' may be part of the password.
  const at = rest.lastIndexOf('@');
  const credentials = credentialsOf(at < 0 ? undefined : rest.slice(0, at));
  const afterCredentials = rest.slice(at + 1).replace(/[?#].*$/, '');
  const slash = afterCredentials.indexOf('/');
  const authority = slash < 0 ? afterCredentials : afterCredentials.slice(0, slash);
  const path = slash < 0 ? '' : decodePart(afterCredentials.slice(slash + 1));
  if (authority === '') throw new ConfigError(`Redis URL '${shown}' names no host`);
  const defaultPort = kind === 'sentinel' ? DEFAULT_SENTINEL_PORT : DEFAULT_REDIS_PORT;
  const hosts = authority.split(',').map((h) => hostPort(h, defaultPort, shown));

  if (kind === 'standalone') {
    if (hosts.length > 1) {
      throw new ConfigError(
        `Redis URL '${shown}' names several hosts: use redis+sentinel:// or redis+cluster://`,
      );
    }
    if (path !== '' && !/^\d+$/.test(path)) {
      throw new ConfigError(`Redis URL '${shown}': the path must be a database number`);
    }
    return { kind, tls, credentials, hosts, ...(path !== '' ? { database: Number(path) } : {}) };
  }
  if (kind === 'sentinel') {
    if (path === '') {
      throw new ConfigError(
        `Sentinel URL '${shown}' needs the master name: redis+sentinel://host:port/mymaster`,
      );
    }
    return { kind, tls, credentials, hosts, masterName: path };
  }
  return { kind, tls, credentials, hosts };
}
