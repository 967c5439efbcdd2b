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
 */
import { toError } from '../core/error-text.ts';
import { Broadcast } from '../core/broadcast.ts';
import { ClosedError, ConfigError, ValidationError } from '../core/errors.ts';
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
      return await this.conn.send<number>(['PUBLISH', this.channelPrefix + channel, body]);
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
    const client = (await this.connection()).raw as PubSubClient;

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
      else await client.subscribe(this.channelPrefix + (channel as string), onMessage);
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
          else await client.unsubscribe(this.channelPrefix + (channel as string), onMessage);
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
        sub.on('ready', () => {
          if (!down || this.closed) return;
          down = false;
          this.events.push({ type: 'reconnected' });
        });
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
