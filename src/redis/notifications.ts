/**
 * Notifications on Redis pub/sub: AT-MOST-ONCE (see src/core/notifications.ts).
 * Redis keeps nothing: PUBLISH reaches the connections subscribed at that
 * instant, and a message sent while a listener is disconnected is lost.
 *
 * Channels are `<prefix>:n:<channel>` (patterns likewise, with the prefix's glob
 * characters escaped). A message is JSON `{"type"?, "data", "time"}`; anything
 * else on the channel (a foreign `PUBLISH`) is delivered with data = the raw string.
 *
 * All listens of one notifier share ONE dedicated connection, opened on the
 * first listen. node-redis renews its subscriptions after a reconnect.
 *
 * On Redis Cluster, notifications use sharded pub/sub (Redis 7: SPUBLISH / SSUBSCRIBE): a
 * channel lives on the shard owning its slot, so a message crosses one shard instead of being
 * broadcast over the cluster bus to every node, and notification traffic grows with the shards.
 * The duplicate connection is a cluster client that keeps one subscriber connection per shard
 * holding a listened channel, and moves a channel's subscription when its slot moves (node-redis
 * follows Redis's SUNSUBSCRIBE on a migrated slot). Patterns have no sharded form (a pattern
 * spans slots): listening to one on a Cluster is refused with an UnsupportedError; they work on
 * standalone Redis and Sentinel. A foreign client must SPUBLISH on a Cluster to reach listeners.
 */
import { toError } from '../core/error-text.ts';
import { Broadcast } from '../core/broadcast.ts';
import { ClosedError, ConfigError, UnsupportedError, ValidationError } from '../core/errors.ts';
import type {
  ListenTarget,
  Listener,
  Notification,
  NotificationHandler,
  Notifier,
  NotifierStatus,
  NotifyOptions,
} from '../core/notifications.ts';
import type { RedisConnection } from './connection.ts';
import { toHeraldError } from './errors.ts';

export interface RedisNotifierOptions {
  /** Called when a handler throws or rejects (also reported on `status()`). The notification is dropped. */
  readonly onError?: (error: Error, channel: string) => void;
}

type PubSubListener = (message: string, channel: string) => void;

/** The part of node-redis's client used for pub/sub. */
interface PubSubClient {
  subscribe(channels: string, listener: PubSubListener): Promise<void>;
  unsubscribe(channels: string, listener: PubSubListener): Promise<void>;
  pSubscribe(patterns: string, listener: PubSubListener): Promise<void>;
  pUnsubscribe(patterns: string, listener: PubSubListener): Promise<void>;
}

/** node-redis's cluster client adds sharded pub/sub (node-redis 4.6+). */
interface ShardedPubSubClient {
  sSubscribe(channels: string, listener: PubSubListener): Promise<void>;
  sUnsubscribe(channels: string, listener: PubSubListener): Promise<void>;
}

/** How a channel is subscribed to: classic pub/sub, or sharded on a Cluster. */
interface ChannelSubscriber {
  subscribe(channel: string, listener: PubSubListener): Promise<void>;
  unsubscribe(channel: string, listener: PubSubListener): Promise<void>;
}

function channelSubscriber(client: unknown, sharded: boolean): ChannelSubscriber {
  if (sharded) {
    const c = client as ShardedPubSubClient;
    return {
      subscribe: (channel, listener) => c.sSubscribe(channel, listener),
      unsubscribe: (channel, listener) => c.sUnsubscribe(channel, listener),
    };
  }
  const c = client as PubSubClient;
  return {
    subscribe: (channel, listener) => c.subscribe(channel, listener),
    unsubscribe: (channel, listener) => c.unsubscribe(channel, listener),
  };
}

interface Envelope {
  type?: string;
  data: unknown;
  time: string;
}

function isEnvelope(v: unknown): v is Envelope {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return (
    'data' in o &&
    typeof o.time === 'string' &&
    (o.type === undefined || typeof o.type === 'string') &&
    Object.keys(o).every((k) => k === 'type' || k === 'data' || k === 'time')
  );
}

function decode(raw: string): Envelope {
  try {
    const v: unknown = JSON.parse(raw);
    if (isEnvelope(v)) return v;
  } catch {
    /* a foreign message: delivered as is */
  }
  return { data: raw, time: new Date().toISOString() };
}

/** Escapes glob characters so the prefix matches only itself inside a pattern. */
function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || name === '')
    throw new ConfigError(`${what} must be a non-empty string`);
  return name;
}

export class RedisNotifier implements Notifier {
  private readonly channelPrefix: string;
  private readonly events = new Broadcast<NotifierStatus>();
  private subscriber: Promise<RedisConnection> | undefined;
  private readonly listeners = new Set<Listener>();
  private closed = false;

  constructor(
    private readonly conn: RedisConnection,
    prefix: string,
    private readonly options: RedisNotifierOptions = {},
  ) {
    this.channelPrefix = `${prefix}:n:`;
  }

  /** True on a Cluster: channels are sharded (SPUBLISH / SSUBSCRIBE) and patterns are refused. */
  get sharded(): boolean {
    return this.conn.kind === 'cluster';
  }

  async notify(channel: string, message: unknown, options: NotifyOptions = {}): Promise<number> {
    checkName('notify: channel', channel);
    if (this.closed) throw new ClosedError('notify: the notifier is closed');
    const envelope: Envelope = { data: message ?? null, time: new Date().toISOString() };
    if (options.type !== undefined) envelope.type = options.type;
    let body: string;
    try {
      body = JSON.stringify(envelope);
    } catch (e) {
      throw new ValidationError(`notify '${channel}': the message is not JSON-serialisable`, [], {
        cause: e,
      });
    }
    try {
      const full = this.channelPrefix + channel;
      // SPUBLISH is routed by its channel, like a key, to the shard owning the channel's slot.
      return await this.conn.send<number>(
        this.sharded ? ['SPUBLISH', full, body] : ['PUBLISH', full, body],
        this.sharded ? { key: full } : undefined,
      );
    } catch (e) {
      throw toHeraldError(e, `notify '${channel}'`);
    }
  }

  async listen<T = unknown>(
    target: ListenTarget,
    handler: NotificationHandler<T>,
  ): Promise<Listener> {
    if (typeof handler !== 'function') throw new ConfigError('listen: handler must be a function');
    const pattern =
      typeof target === 'string' ? undefined : checkName('listen: pattern', target.pattern);
    const channel = typeof target === 'string' ? checkName('listen: channel', target) : undefined;
    if (this.closed) throw new ClosedError('listen: the notifier is closed');
    if (pattern !== undefined && this.sharded)
      throw new UnsupportedError(
        `listen to pattern '${pattern}': Redis Cluster has no sharded form of pattern subscriptions ` +
          '(a pattern spans slots); listen to channels by name, or use standalone Redis or Sentinel for patterns',
      );
    const raw = (await this.connection()).raw;
    const client = raw as PubSubClient;
    const channels = channelSubscriber(raw, this.sharded);

    const onMessage: PubSubListener = (message, fullChannel) => {
      const envelope = decode(message);
      const name = fullChannel.startsWith(this.channelPrefix)
        ? fullChannel.slice(this.channelPrefix.length)
        : fullChannel;
      const notification: Notification<T> = {
        channel: name,
        ...(pattern !== undefined && { pattern }),
        ...(envelope.type !== undefined && { type: envelope.type }),
        data: envelope.data as T,
        time: envelope.time,
      };
      this.dispatch(handler, notification);
    };

    try {
      if (pattern !== undefined)
        await client.pSubscribe(escapeGlob(this.channelPrefix) + pattern, onMessage);
      else await channels.subscribe(this.channelPrefix + (channel as string), onMessage);
    } catch (e) {
      throw toHeraldError(e, `listen to '${pattern ?? channel}'`);
    }

    let open = true;
    const listener: Listener = {
      target,
      close: async () => {
        if (!open) return;
        open = false;
        this.listeners.delete(listener);
        if (this.closed) return;
        try {
          // Removes only this handler; Redis is unsubscribed when a channel has none left.
          if (pattern !== undefined)
            await client.pUnsubscribe(escapeGlob(this.channelPrefix) + pattern, onMessage);
          else await channels.unsubscribe(this.channelPrefix + (channel as string), onMessage);
        } catch (e) {
          throw toHeraldError(e, `stop listening to '${pattern ?? channel}'`);
        }
      },
    };
    this.listeners.add(listener);
    return listener;
  }

  status(): AsyncIterable<NotifierStatus> {
    return this.events.subscribe();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub) await (await sub.catch(() => undefined))?.close();
    this.events.push({ type: 'closed' });
    this.events.end();
  }

  /** The shared subscriber connection, opened once. */
  private connection(): Promise<RedisConnection> {
    if (!this.subscriber) {
      const opening = this.conn.duplicate().then((sub) => {
        let down = false;
        sub.on('error', (e) => {
          if (down || this.closed) return;
          down = true;
          this.events.push({ type: 'disconnected', error: toHeraldError(e, 'notifications') });
        });
        const onReady = (): void => {
          if (!down || this.closed) return;
          down = false;
          this.events.push({ type: 'reconnected' });
        };
        sub.on('ready', onReady);
        if (this.sharded) {
          // A cluster client reports its per-shard subscriber connections as node events.
          const cluster = sub.raw as {
            on(event: 'node-error' | 'node-ready', listener: (e?: unknown) => void): unknown;
          };
          cluster.on('node-error', (e) => {
            if (down || this.closed) return;
            down = true;
            this.events.push({ type: 'disconnected', error: toHeraldError(e, 'notifications') });
          });
          cluster.on('node-ready', onReady);
        }
        return sub;
      });
      // A failed open is not cached: the next listen tries again.
      opening.catch(() => {
        if (this.subscriber === opening) this.subscriber = undefined;
      });
      this.subscriber = opening;
    }
    return this.subscriber.catch((e: unknown) => {
      throw toHeraldError(e, 'open the notifications connection');
    });
  }

  /** Runs a handler without letting its error escape: reported, and the notification is dropped. */
  private dispatch<T>(handler: NotificationHandler<T>, notification: Notification<T>): void {
    const report = (e: unknown): void => {
      const error = toError(e);
      this.events.push({ type: 'handler-error', channel: notification.channel, error });
      try {
        this.options.onError?.(error, notification.channel);
      } catch {
        /* an error reporter that throws must not crash the process either */
      }
    };
    try {
      Promise.resolve(handler(notification)).catch(report);
    } catch (e) {
      report(e);
    }
  }
}
