/**
 * One small surface over node-redis for standalone, Sentinel and Cluster, so
 * the rest of the backend never cares which it talks to. node-redis was chosen
 * by measurement (the core issue's side-by-side loop: about 64k events/s end to
 * end against ioredis's 48-56k) and reconnects by itself with backoff.
 *
 * URLs: redis://, rediss:// (TLS), redis+sentinel://host:port[,host:port]/masterName,
 * redis+cluster://host:port[,host:port] (rediss+… for TLS): parsed in endpoint.ts; TLS
 * settings in tls.ts. URLs are shown redacted (core/redact.ts), and credentials reach
 * node-redis as options, never inside a URL it would parse and quote in its errors.
 *
 * Sentinel (node-redis `sendCommand(isReadonly, args)`): one connection to the master the
 * sentinels name. When it drops, node-redis asks the sentinels again and re-sends the
 * commands in flight to the master they name, retrying until a failover completes; so an
 * outage shows as slow replies rather than errors, bounded by SendOptions.timeoutMs (the
 * command may still run later: its outcome is unknown).
 * Cluster (node-redis `sendCommand(firstKey, isReadonly, args)`): routed by the command's
 * key, given or found from the command (firstKeyOf). Commands of one call must share a slot.
 *
 * Dead peers: every connection (and every duplicate) runs a DeadPeerWatchdog (dead-peer.ts): a
 * peer that stops answering without closing the socket is dropped within `deadPeerTimeoutMs`
 * and the connection reopened (see `reopenSilent`).
 */
import { setMaxListeners } from 'node:events';
import { createClient, createCluster, createSentinel } from 'redis';
import { errorMessage, toError } from '../core/error-text.ts';
import { ConfigError, ConnectionError } from '../core/errors.ts';
import { redactText, redactUrl } from '../core/redact.ts';
import { blockingMsOf, DEFAULT_DEAD_PEER_TIMEOUT_MS, DeadPeerWatchdog } from './dead-peer.ts';
import { DEFAULT_REDIS_URL, parseRedisUrl } from './endpoint.ts';
import { isPermanentConnectFailure, isRootNodesUnavailable } from './error-kinds.ts';
import { ReplyTimeoutError, toHeraldError } from './errors.ts';
import { tlsSocketOptions, type TlsOptions } from './tls.ts';

export { DEFAULT_DEAD_PEER_TIMEOUT_MS } from './dead-peer.ts';
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
  /**
   * Lets the caller drop the command while it still waits to be written (Redis unreachable). Only
   * handed to node-redis while the connection is not ready: on a ready connection the command is
   * written within this turn of the event loop, and a listener per command on a signal shared by
   * a batch costs more than the command (Node scans the listener list on every add and remove).
   */
  readonly drop?: DropSignal | undefined;
  /**
   * False: an ACL refusal is left as node-redis's error, for a caller that names it itself on its
   * failure path (`asPermissionError`), sparing its hot path a promise per command. Default true:
   * it becomes a PermissionError naming the command and its key.
   */
  readonly nameRefusals?: boolean | undefined;
  /**
   * How long the command may block in Redis by design, when the caller knows it (spares the
   * dead-peer watchdog reading it from the arguments on every send). See `blockingMsOf`.
   */
  readonly blockMs?: number | undefined;
}

/** node-redis command options of a command whose wait the caller bounds (see SendOptions.replyTimer). */
const NO_NODE_REDIS_TIMEOUT = Object.freeze({ timeout: 0 });

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
  /**
   * True when commands sent now may form a MULTI/EXEC: one socket (standalone Redis), ready, so
   * what is sent in this turn is written in it, and MULTI not refused to this user.
   */
  readonly transactional: boolean;
  /** MULTI was refused (an ACL without it): no transactions on this connection from now on. */
  noTransactions(): void;
  /**
   * 'error' also reports a silent peer (a ConnectionError) when the connection is dropped for it;
   * 'ready' follows when it is open again.
   */
  on(event: ConnectionEvent, listener: (e?: unknown) => void): void;
  /** The dead-peer bound of this connection (ms), 0 when detection is off. */
  readonly deadPeerTimeoutMs: number;
  /** Waits for pending commands, then closes. */
  close(): Promise<void>;
  /** Closes now; pending commands are rejected. */
  destroy(): void;
}

export type ConnectionEvent = 'error' | 'reconnecting' | 'ready';

export interface ConnectionOptions {
  /** Default: process.env.REDIS_URL, else redis://127.0.0.1:6379. */
  readonly url?: string;
  /**
   * Node-redis client options merged in (ACL username/password, …). Their `socket` is merged
   * with Herald's socket settings (reconnects, timeouts, TLS), not instead of them.
   */
  readonly clientOptions?: Record<string, unknown>;
  /**
   * TLS settings for a rediss:// URL: CA, client certificate and key (mutual TLS), server
   * name. Default: from REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE,
   * REDIS_TLS_SERVERNAME. See docs/security.md.
   */
  readonly tls?: TlsOptions;
  readonly connectTimeoutMs?: number;
  /**
   * Bound (ms) on how long a connection whose peer stopped answering without closing it (a dead
   * host behind a NAT, a load balancer or a cloud network: no FIN, no RST) goes unnoticed. Within
   * it Herald drops the socket and reconnects, on every connection it holds (publishing, blocking
   * reads, reclaim, WAIT, notifications, queues): commands get reply deadlines (a blocking
   * command's own wait plus half the bound) and idle connections send a PING after a third of it.
   * A blocking read is noticed after its block time plus half the bound. Default 15000
   * (DEFAULT_DEAD_PEER_TIMEOUT_MS); 0 turns detection off. Keep it above the slowest command
   * you expect Redis to run (a non-blocking command answering later than half of it counts as
   * a dead peer).
   */
  readonly deadPeerTimeoutMs?: number;
}

type AnyClient = {
  readonly isReady: boolean;
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

const RECONNECT_MAX_DELAY_MS = 2000;
const RECONNECT_JITTER_MS = 50;
/** Time for a destroyed socket's close to reach node-redis (a turn of the event loop, with margin). */
const SOCKET_CLOSE_SETTLE_MS = 20;

function reconnectStrategy(retries: number): number {
  // 50 ms, 100 ms, … capped at 2 s, with jitter; never gives up.
  return (
    Math.min(RECONNECT_MAX_DELAY_MS, 50 * 2 ** Math.min(retries, 6)) +
    Math.floor(Math.random() * RECONNECT_JITTER_MS)
  );
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
/**
 * The abort signal of a batch of commands (SendOptions.drop), made only when a command first
 * needs it: on a ready standalone connection none does, and an AbortController with its
 * listener limit lifted costs about 10 µs, more than a small batch's other work.
 *
 * With `dropAfterMs` the signal also bounds the wait to be written: the first command that
 * takes it (the connection is down) arms a timer that drops it after that long. `settled()`
 * after the reply disarms it and readies the instance for the next command, so a loop keeps one.
 */
export class DropSignal {
  private controller: AbortController | undefined;
  private dropped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly dropAfterMs?: number) {}

  /** The signal, with room for a listener per command of the batch. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      setMaxListeners(0, this.controller.signal);
      if (this.dropped) this.controller.abort();
      else if (this.dropAfterMs !== undefined)
        this.timer = setTimeout(() => this.drop(), this.dropAfterMs);
    }
    return this.controller.signal;
  }

  /** Drops the commands still waiting to be written (and any sent with this later). */
  drop(): void {
    this.dropped = true;
    clearTimeout(this.timer);
    this.controller?.abort();
  }

  /** The command was answered (or failed): disarm, and start afresh for the next one. */
  settled(): void {
    if (this.controller === undefined && !this.dropped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.controller = undefined;
    this.dropped = false;
  }
}

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
        reject(toError(error));
      },
    );
  });
}

/** How a connection is made and what it is held to: shared by a connection and its duplicates. */
interface ConnectionSetup {
  readonly kind: RedisConnection['kind'];
  readonly make: () => AnyClient;
  readonly connectTimeoutMs: number;
  readonly deadPeerTimeoutMs: number;
}

class Connection implements RedisConnection {
  readonly kind: RedisConnection['kind'];
  readonly deadPeerTimeoutMs: number;
  private readonly watchdog: DeadPeerWatchdog | undefined;
  private readonly listeners = new Map<ConnectionEvent, ((e?: unknown) => void)[]>();
  private closed = false;
  private transactionsAllowed = true;
  /** Drops for a silent peer so far: a reopen that a later drop overtook stops. */
  private reopenings = 0;

  constructor(
    private readonly setup: ConnectionSetup,
    private readonly client: AnyClient,
  ) {
    this.kind = setup.kind;
    this.deadPeerTimeoutMs = setup.deadPeerTimeoutMs;
    if (setup.deadPeerTimeoutMs > 0) {
      this.watchdog = new DeadPeerWatchdog({
        timeoutMs: setup.deadPeerTimeoutMs,
        ordered: setup.kind !== 'cluster',
        ping: () => void this.send(['PING']).catch(() => {}),
        onDead: (silentMs) => this.reopenSilent(silentMs),
      });
      if (setup.kind === 'standalone') this.watchHandshakes();
    }
  }

  get raw(): unknown {
    return this.client;
  }

  get transactional(): boolean {
    return this.kind === 'standalone' && this.transactionsAllowed && this.client.isReady;
  }

  noTransactions(): void {
    this.transactionsAllowed = false;
  }

  send<T>(args: Args, options?: SendOptions): Promise<T> {
    const timeoutMs = options?.timeoutMs;
    const callerBounds = options?.replyTimer === false;
    // node-redis's timeout only bounds the wait to be written (it drops the command if it is still
    // queued while offline); the wait for the reply is bounded below.
    // With replyTimer false the caller's deadline (and its abort signal) bounds the batch: 0 spares
    // node-redis a timeout signal per command, which costs more than the command itself.
    let cmdOptions: { timeout?: number; abortSignal?: AbortSignal } | undefined;
    if (timeoutMs !== undefined)
      cmdOptions = callerBounds ? NO_NODE_REDIS_TIMEOUT : { timeout: timeoutMs };
    const drop = options?.drop;
    if (drop !== undefined && (this.kind === 'cluster' || !this.client.isReady))
      cmdOptions = { ...cmdOptions, abortSignal: drop.signal };
    const c = this.client as unknown as {
      sendCommand(...a: unknown[]): Promise<T>;
    };
    let reply: Promise<T>;
    if (this.kind === 'cluster')
      reply = c.sendCommand(options?.key ?? firstKeyOf(args), false, args, cmdOptions);
    else if (this.kind === 'sentinel') reply = c.sendCommand(false, args, cmdOptions);
    else reply = c.sendCommand(args, cmdOptions);
    this.watchdog?.track(reply, options?.blockMs ?? blockingMsOf(args));
    if (options?.nameRefusals !== false) {
      // An ACL refusal becomes a PermissionError naming the command and its key.
      reply = reply.catch((e: unknown) => {
        throw asPermissionError(e, args, options?.key ?? firstKeyOf(args));
      });
    }
    return timeoutMs === undefined || callerBounds
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
    // Same setup, so the same reconnect strategy and dead-peer bound: a duplicate reconnects by itself too.
    const dup = this.setup.make();
    await connectWithin(dup, this.setup.connectTimeoutMs, 'open a second connection to Redis');
    return new Connection(this.setup, dup);
  }

  on(event: ConnectionEvent, listener: (e?: unknown) => void): void {
    this.client.on(event, listener);
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), listener]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watchdog?.stop();
    try {
      await this.client.close();
    } catch {
      destroyQuietly(this.client);
    }
  }

  destroy(): void {
    this.closed = true;
    this.watchdog?.stop();
    destroyQuietly(this.client);
  }

  /**
   * A standalone client's handshake (HELLO, …) is a wait for a reply too: a new connection that
   * is accepted and then left silent (a blackholed path) must not hang in it forever.
   */
  private watchHandshakes(): void {
    let settle: (() => void) | undefined;
    const ended = (): void => {
      settle?.();
      settle = undefined;
    };
    this.client.on('connect', () => {
      ended();
      this.watchdog?.track(new Promise<void>((resolve) => (settle = resolve)), 0);
    });
    for (const event of ['ready', 'error', 'end']) this.client.on(event, ended);
    this.handshaking = () => settle !== undefined;
  }

  /** True while a standalone client waits for its handshake's replies on a new socket. */
  private handshaking: () => boolean = () => false;

  /**
   * The peer stopped answering without closing the socket: report it, drop the socket (commands
   * waiting on it are rejected with a ConnectionError, their outcome unknown) and open it again.
   * node-redis renews pub/sub subscriptions when it reconnects, and reports 'ready'.
   */
  private reopenSilent(silentMs: number): void {
    if (this.closed) return;
    const error = new ConnectionError(
      `Redis did not answer for ${silentMs} ms (deadPeerTimeoutMs ${this.deadPeerTimeoutMs}): ` +
        'the connection is silent, as when a host vanishes behind a NAT or load balancer; dropping it and reconnecting',
    );
    for (const listener of this.listeners.get('error') ?? []) listener(error);
    for (const listener of this.listeners.get('reconnecting') ?? []) listener();
    const wasReady = this.client.isReady;
    const wasHandshaking = this.handshaking();
    const generation = ++this.reopenings;
    const reopen = (): void => void this.reopen(generation, 0);
    let destroyed: unknown;
    try {
      destroyed = this.client.destroy();
    } catch {
      /* already closed */
    }
    if (destroyed instanceof Promise) {
      // Sentinel: its teardown is asynchronous; it reopens with a fresh master connection.
      destroyed.catch(() => {}).finally(reopen);
    } else if (wasReady || this.kind === 'cluster') {
      reopen();
    } else {
      // A standalone client caught mid-reconnect: its own reconnect loop must stop first (it
      // does at its next step), or two loops would run on one client. Stuck in a handshake, that
      // step is the dropped socket's close, on the next turn of the event loop; between two
      // attempts, it is the end of the backoff delay.
      const settleMs = wasHandshaking
        ? SOCKET_CLOSE_SETTLE_MS
        : RECONNECT_MAX_DELAY_MS + RECONNECT_JITTER_MS;
      setTimeout(reopen, settleMs).unref();
    }
  }

  /**
   * Opens the client again after a drop. A standalone client retries inside connect() until it
   * is ready. A Cluster or Sentinel client gives up when no node answers: retry it with backoff,
   * and hold its connect to the dead-peer bound too (a silent seed node must not hang it).
   * A later drop (a newer `generation`) ends this attempt.
   */
  private async reopen(generation: number, retries: number): Promise<void> {
    if (this.closed || generation !== this.reopenings) return;
    const connecting = this.client.connect();
    if (this.kind === 'standalone') {
      await connecting.catch(() => {}); // errors are reported on 'error'
      return;
    }
    this.watchdog?.track(connecting, 0);
    try {
      await connecting;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, reconnectStrategy(retries)).unref());
      await this.reopen(generation, retries + 1);
    }
  }
}

function deadPeerTimeoutOf(options: ConnectionOptions): number {
  const ms = options.deadPeerTimeoutMs ?? DEFAULT_DEAD_PEER_TIMEOUT_MS;
  if (!Number.isInteger(ms) || ms < 0)
    throw new ConfigError(
      `deadPeerTimeoutMs must be a whole number of ms ≥ 0 (0: off), got ${String(ms)}`,
    );
  return ms;
}

function build(options: ConnectionOptions): ConnectionSetup {
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const deadPeerTimeoutMs = deadPeerTimeoutOf(options);
  const url = options.url ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL;
  const { socket: givenSocket, ...extra } = options.clientOptions ?? {};
  const socket = {
    reconnectStrategy,
    connectTimeout: connectTimeoutMs,
    noDelay: true,
  };
  const endpoint = parseRedisUrl(url);
  const tls = tlsSocketOptions(endpoint.tls, options.tls);
  // Herald's socket settings, then TLS, then the caller's own socket options on top.
  const nodeSocket = { ...socket, ...tls, ...(givenSocket as Record<string, unknown>) };
  const fromUrl = { ...endpoint.credentials };
  const [first] = endpoint.hosts;
  if (endpoint.kind === 'standalone' && first !== undefined) {
    const database = endpoint.database !== undefined ? { database: endpoint.database } : {};
    return {
      kind: 'standalone',
      make: () =>
        createClient({
          ...fromUrl,
          ...database,
          ...extra,
          socket: { ...nodeSocket, host: first.host, port: first.port },
        }),
      connectTimeoutMs,
      deadPeerTimeoutMs,
    };
  }
  if (endpoint.kind === 'sentinel' && endpoint.masterName !== undefined) {
    const name = endpoint.masterName;
    return {
      kind: 'sentinel',
      make: () =>
        createSentinel({
          name,
          sentinelRootNodes: [...endpoint.hosts],
          nodeClientOptions: { ...fromUrl, ...extra, socket: nodeSocket },
          // The sentinels themselves: the same connect timeout (node-redis's default is 5 s per
          // sentinel tried) and TLS. Credentials are the data nodes', not the sentinels'.
          sentinelClientOptions: {
            socket: { connectTimeout: socket.connectTimeout, noDelay: true, ...tls },
          },
        }),
      connectTimeoutMs,
      deadPeerTimeoutMs,
    };
  }
  const rootNodes = endpoint.hosts.map((h) => ({ socket: { host: h.host, port: h.port } }));
  return {
    kind: 'cluster',
    make: () =>
      createCluster({ rootNodes, defaults: { ...fromUrl, ...extra, socket: nodeSocket } }),
    connectTimeoutMs,
    deadPeerTimeoutMs,
  };
}

/**
 * Connects `client` (node-redis retries by itself meanwhile), giving up after `timeoutMs`:
 * then the client is destroyed and a ConnectionError thrown, naming the last error seen.
 */
async function connectWithin(client: AnyClient, timeoutMs: number, what: string): Promise<void> {
  // Errors are reported through the subscriptions' status and the commands' rejections; a listener
  // must exist or node-redis would throw on every reconnect attempt. The last one explains a timeout.
  let lastError: unknown;
  // A wrong password or certificate fails every attempt alike: give up at once, with its error.
  let failNow: (e: unknown) => void = () => {};
  const permanentFailure = new Promise<never>((_, reject) => (failNow = reject));
  client.on('error', (e) => {
    lastError = e;
    if (isPermanentConnectFailure(e)) failNow(e);
  });
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
      permanentFailure,
      new Promise((_, reject) => {
        timer = setTimeout(() => {
          const last =
            lastError === undefined ? '' : ` (last error: ${redactText(errorMessage(lastError))})`;
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

/** Connects to Redis. Rejects with a ConnectionError when Redis cannot be reached within the connect timeout. */
export async function connect(options: ConnectionOptions = {}): Promise<RedisConnection> {
  const setup = build(options);
  const client = setup.make();
  await connectWithin(
    client,
    setup.connectTimeoutMs,
    `connect to ${redactUrl(options.url ?? process.env.REDIS_URL ?? DEFAULT_REDIS_URL)}`,
  );
  return new Connection(setup, client);
}
