/**
 * One small surface over node-redis for standalone, Sentinel and Cluster, so
 * the rest of the backend never cares which it talks to. node-redis was chosen
 * by measurement (the core issue's side-by-side loop: about 64k events/s end to
 * end against ioredis's 48-56k) and reconnects by itself with backoff.
 *
 * URLs: redis://, rediss:// (TLS), redis+sentinel://host:port[,host:port]/masterName,
 * redis+cluster://host:port[,host:port].
 *
 * Sentinel (node-redis `sendCommand(isReadonly, args)`): one connection to the master the
 * sentinels name. When it drops, node-redis asks the sentinels again and re-sends the
 * commands in flight to the master they name, retrying until a failover completes; so an
 * outage shows as slow replies rather than errors, bounded by SendOptions.timeoutMs (the
 * command may still run later: its outcome is unknown).
 * Cluster (node-redis `sendCommand(firstKey, isReadonly, args)`): routed by the command's
 * key, given or found from the command (firstKeyOf). Commands of one call must share a slot.
 */
import { createClient, createCluster, createSentinel } from 'redis';
import { ConfigError, ConnectionError } from '../core/errors.ts';
import { ReplyTimeoutError, toHeraldError } from './errors.ts';
import { asPermissionError } from './permission.ts';

export type Args = readonly string[];

export interface SendOptions {
  /** A key of the command, to route it in a cluster. */
  readonly key?: string | undefined;
  readonly timeoutMs?: number | undefined;
  /**
   * False when the caller bounds the wait for the reply itself with `withDeadline`
   * (one timer for a whole batch instead of one per command). Default true.
   */
  readonly replyTimer?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Rejects with a ReplyTimeoutError (mapped to TimeoutError) when `work` has not settled within
 * `timeoutMs`: one timer for a batch of commands sent with `replyTimer: false`.
 */
export function withDeadline<T>(
  work: Promise<T>,
  what: string,
  timeoutMs: number,
  onTimeout?: () => void,
): Promise<T> {
  return withReplyTimeout(work, what, timeoutMs, onTimeout);
}

export interface RedisConnection {
  readonly kind: 'standalone' | 'sentinel' | 'cluster';
  send<T = unknown>(args: Args, options?: SendOptions): Promise<T>;
  /** Sends several commands in one round trip (a pipeline, not a transaction). Replies or errors, in order. */
  pipeline(commands: readonly Args[], options?: SendOptions): Promise<unknown[]>;
  /**
   * A new connection with the same settings, for blocking commands and pub/sub. For Sentinel
   * and Cluster it is a whole new node-redis client: its own sentinel connection and master
   * connection, or its own connections to the cluster nodes it uses.
   */
  duplicate(): Promise<RedisConnection>;
  /** The underlying node-redis client (for pub/sub and tools). */
  readonly raw: unknown;
  on(event: 'error' | 'reconnecting' | 'ready', listener: (e?: unknown) => void): void;
  /** Waits for pending commands, then closes. */
  close(): Promise<void>;
  /** Closes now; pending commands are rejected. */
  destroy(): void;
}

export interface ConnectionOptions {
  /** Default: process.env.REDIS_URL, else redis://127.0.0.1:6379. */
  readonly url?: string;
  /** Node-redis client options merged in (TLS, ACL username/password, …). */
  readonly clientOptions?: Record<string, unknown>;
  readonly connectTimeoutMs?: number;
}

type AnyClient = {
  connect(): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: string, listener: (...a: unknown[]) => void): unknown;
  duplicate(): AnyClient;
};

/** Destroys a client that may be closed already (a sentinel's destroy() is async). */
function destroyQuietly(client: AnyClient): void {
  try {
    const done = client.destroy() as unknown;
    if (done instanceof Promise) done.catch(() => {});
  } catch {
    /* already closed */
  }
}

function reconnectStrategy(retries: number): number {
  // 50 ms, 100 ms, … capped at 2 s, with jitter; never gives up.
  return Math.min(2000, 50 * 2 ** Math.min(retries, 6)) + Math.floor(Math.random() * 50);
}

function hosts(list: string, what: string, defaultPort: number): { host: string; port: number }[] {
  return list.split(',').map((hp) => {
    const [host, port] = hp.split(':');
    const n = Number(port ?? defaultPort);
    if (!host || !Number.isInteger(n) || n < 1 || n > 65535)
      throw new ConfigError(`${what}: '${hp}' is not host:port`);
    return { host, port: n };
  });
}

/** Commands without keys: in a cluster they go to any node. */
const KEYLESS = new Set([
  'PING',
  'ECHO',
  'INFO',
  'WAIT',
  'WAITAOF',
  'TIME',
  'DBSIZE',
  'SCAN',
  'CLUSTER',
  'CLIENT',
  'CONFIG',
  'COMMAND',
  'SCRIPT',
  'FUNCTION',
  'PUBLISH',
  'PUBSUB',
  'MEMORY',
  'LATENCY',
  'SLOWLOG',
  'HELLO',
  'ROLE',
]);

/**
 * The first key of a command, found from the command's own layout, so a cluster can
 * route commands whose caller gave no key (a pipeline over several partitions, the
 * registry's hash). Without it node-redis sends them to a random node and follows the
 * MOVED reply, rediscovering the slot map each time.
 */
export function firstKeyOf(args: Args): string | undefined {
  const name = args[0]?.toUpperCase();
  if (name === undefined || KEYLESS.has(name)) return undefined;
  switch (name) {
    case 'EVAL':
    case 'EVALSHA':
    case 'EVAL_RO':
    case 'EVALSHA_RO':
    case 'FCALL':
    case 'FCALL_RO':
      return Number(args[2]) > 0 ? args[3] : undefined;
    case 'XREAD':
    case 'XREADGROUP': {
      const at = args.findIndex((a) => a.toUpperCase() === 'STREAMS');
      return at < 0 ? undefined : args[at + 1];
    }
    case 'XGROUP':
    case 'XINFO':
    case 'OBJECT':
      return args[2];
    default:
      return args[1];
  }
}

/**
 * Rejects with a ReplyTimeoutError when `reply` has not settled within `timeoutMs`. The command
 * itself cannot be recalled: Redis may still run it, so the outcome is unknown to the caller.
 */
function withReplyTimeout<T>(
  reply: Promise<T>,
  command: string,
  timeoutMs: number,
  onTimeout?: () => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new ReplyTimeoutError(command, timeoutMs));
    }, timeoutMs);
    reply.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

class Connection implements RedisConnection {
  constructor(
    readonly kind: RedisConnection['kind'],
    private readonly client: AnyClient,
    private readonly makeDuplicate: () => AnyClient,
    private readonly connectTimeoutMs: number,
  ) {}

  get raw(): unknown {
    return this.client;
  }

  send<T>(args: Args, options?: SendOptions): Promise<T> {
    const cmdOptions: { timeout?: number; abortSignal?: AbortSignal } = {};
    const timeoutMs = options?.timeoutMs;
    // node-redis's timeout only bounds the wait to be written (it drops the command if it is still
    // queued while offline); the wait for the reply is bounded below.
    // With replyTimer false the caller's deadline (and its abort signal) bounds the batch: 0 spares
    // node-redis a timeout signal per command, which costs more than the command itself.
    if (timeoutMs !== undefined) cmdOptions.timeout = options?.replyTimer === false ? 0 : timeoutMs;
    if (options?.signal !== undefined) cmdOptions.abortSignal = options.signal;
    const c = this.client as unknown as {
      sendCommand(...a: unknown[]): Promise<T>;
    };
    let reply: Promise<T>;
    if (this.kind === 'cluster')
      reply = c.sendCommand(options?.key ?? firstKeyOf(args), false, args, cmdOptions);
    else if (this.kind === 'sentinel') reply = c.sendCommand(false, args, cmdOptions);
    else reply = c.sendCommand(args, cmdOptions);
    // An ACL refusal becomes a PermissionError naming the command and its key.
    reply = reply.catch((e: unknown) => {
      throw asPermissionError(e, args, options?.key ?? firstKeyOf(args));
    });
    return timeoutMs === undefined || options?.replyTimer === false
      ? reply
      : withReplyTimeout(reply, String(args[0]), timeoutMs);
  }

  async pipeline(commands: readonly Args[], options?: SendOptions): Promise<unknown[]> {
    // node-redis writes commands issued in the same tick in one batch, so
    // sending them together is a pipeline; each reply settles on its own.
    // In a cluster each command is routed by its own key (a pipeline may span
    // partitions, hence nodes); `options.key` only serves commands without one.
    const settled = await Promise.allSettled(
      commands.map((c) =>
        this.send<unknown>(
          c,
          this.kind === 'cluster' ? { ...options, key: firstKeyOf(c) ?? options?.key } : options,
        ),
      ),
    );
    return settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as unknown)));
  }

  async duplicate(): Promise<RedisConnection> {
    // Same options, so the same reconnect strategy: a duplicate reconnects by itself too.
    const dup = this.makeDuplicate();
    await connectWithin(dup, this.connectTimeoutMs, 'open a second connection to Redis');
    return new Connection(this.kind, dup, this.makeDuplicate, this.connectTimeoutMs);
  }

  on(event: 'error' | 'reconnecting' | 'ready', listener: (e?: unknown) => void): void {
    this.client.on(event, listener);
  }

  async close(): Promise<void> {
    try {
      await this.client.close();
    } catch {
      destroyQuietly(this.client);
    }
  }

  destroy(): void {
    destroyQuietly(this.client);
  }
}

function build(options: ConnectionOptions): {
  kind: RedisConnection['kind'];
  make: () => AnyClient;
} {
  const url = options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const extra = options.clientOptions ?? {};
  const socket = {
    reconnectStrategy,
    connectTimeout: options.connectTimeoutMs ?? 5000,
    noDelay: true,
  };
  const m = /^redis\+(sentinel|cluster):\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) {
    if (!/^rediss?:\/\//.test(url)) {
      throw new ConfigError(
        `Redis URL '${url}' is not redis://, rediss://, redis+sentinel:// or redis+cluster://`,
      );
    }
    return {
      kind: 'standalone',
      make: () => createClient({ url, socket, ...extra }),
    };
  }
  const [, mode, list = '', name] = m;
  if (mode === 'sentinel') {
    if (!name)
      throw new ConfigError(
        `Sentinel URL '${url}' needs the master name: redis+sentinel://host:port/mymaster`,
      );
    const sentinelRootNodes = hosts(list, 'Sentinel URL', 26379);
    return {
      kind: 'sentinel',
      make: () =>
        createSentinel({
          name,
          sentinelRootNodes,
          nodeClientOptions: { socket, ...extra },
          // The sentinels themselves: the same connect timeout (node-redis's default is 5 s per
          // sentinel tried). Credentials in clientOptions are the data nodes', not the sentinels'.
          sentinelClientOptions: {
            socket: { connectTimeout: socket.connectTimeout, noDelay: true },
          },
        }),
    };
  }
  const rootNodes = hosts(list, 'Cluster URL', 6379).map((h) => ({
    url: `redis://${h.host}:${h.port}`,
  }));
  return {
    kind: 'cluster',
    make: () => createCluster({ rootNodes, defaults: { socket, ...extra } }),
  };
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Connects `client` (node-redis retries by itself meanwhile), giving up after `timeoutMs`:
 * then the client is destroyed and a ConnectionError thrown, naming the last error seen.
 */
async function connectWithin(client: AnyClient, timeoutMs: number, what: string): Promise<void> {
  // Errors are reported through the subscriptions' status and the commands' rejections; a listener
  // must exist or node-redis would throw on every reconnect attempt. The last one explains a timeout.
  let lastError: unknown;
  client.on('error', (e) => (lastError = e));
  let timer: NodeJS.Timeout | undefined;
  let gaveUp = false;
  const attempt = async (): Promise<void> => {
    for (let retries = 0; ; retries++) {
      try {
        await client.connect();
        return;
      } catch (e) {
        // A standalone client and a sentinel keep retrying inside connect(); a cluster gives up
        // after one pass over its root nodes. Retry it until the deadline, as the others do, so
        // a service may start while its Redis is still starting.
        if (!isRootNodesUnavailable(e) || gaveUp) throw e;
        lastError = e;
        await new Promise((resolve) => setTimeout(resolve, reconnectStrategy(retries)));
        if (gaveUp) throw e;
      }
    }
  };
  try {
    await Promise.race([
      attempt(),
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          const last = lastError === undefined ? '' : ` (last error: ${messageOf(lastError)})`;
          reject(
            new ConnectionError(`${what}: no answer from Redis within ${timeoutMs} ms${last}`, {
              cause: lastError,
            }),
          );
        }, timeoutMs);
      }),
    ]);
  } catch (e) {
    gaveUp = true;
    destroyQuietly(client);
    throw toHeraldError(e, what);
  } finally {
    clearTimeout(timer);
  }
}

/** node-redis's cluster found none of its root nodes. */
function isRootNodesUnavailable(e: unknown): boolean {
  return e instanceof Error && e.constructor.name === 'RootNodesUnavailableError';
}

/** Connects to Redis. Rejects with a ConnectionError when Redis cannot be reached within the connect timeout. */
export async function connect(options: ConnectionOptions = {}): Promise<RedisConnection> {
  const { kind, make } = build(options);
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  const client = make();
  await connectWithin(
    client,
    timeoutMs,
    `connect to ${options.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'}`,
  );
  return new Connection(kind, client, make, timeoutMs);
}
