/**
 * Notifications: fire-and-forget messages to whoever is listening right now.
 * Transport-agnostic: nothing here knows about Redis.
 *
 * Guarantee: AT-MOST-ONCE. A notification reaches only the listeners connected
 * at the moment it is sent. Nothing is stored: a listener that is not
 * connected (not started yet, closed, or disconnected by a network failure or
 * a server restart) never receives what was sent meanwhile, and nothing is
 * retried. A handler that throws loses that notification too. Use a topic
 * (durable, at-least-once) or a work queue when every message must arrive.
 *
 * On a Redis Cluster the Redis backend uses sharded pub/sub (SPUBLISH / SSUBSCRIBE): a channel
 * lives on the shard owning its slot. Pattern listeners are standalone and Sentinel only (a
 * pattern spans slots and Redis has no sharded PSUBSCRIBE): on a Cluster they are refused with
 * an UnsupportedError. See docs/scaling.md.
 */

/** A received notification. */
export interface Notification<T = unknown> {
  /** The channel it was sent on, as the sender named it (without the backend's prefix). */
  readonly channel: string;
  /** The pattern that matched, for a pattern listener (without the backend's prefix). */
  readonly pattern?: string;
  /** The sender's optional type tag. */
  readonly type?: string;
  /**
   * The message as given to `notify`. A message that was not sent by `notify`
   * (a foreign client publishing on the channel) arrives as its raw string.
   */
  readonly data: T;
  /** When it was sent (RFC 3339); for a foreign message, when it was received. */
  readonly time: string;
}

/** Receives notifications. Errors it throws are reported, never re-thrown, and the notification is dropped. */
export type NotificationHandler<T = unknown> = (
  notification: Notification<T>,
) => void | Promise<void>;

/**
 * What to listen to: one channel by name, or every channel matching a glob pattern (`orders.*`).
 * Patterns work on standalone Redis and Sentinel only; a Cluster refuses them (UnsupportedError).
 */
export type ListenTarget = string | { readonly pattern: string };

export interface NotifyOptions {
  /** A type tag carried with the message, e.g. `cache.invalidated`. */
  readonly type?: string;
}

/** One active listen. */
export interface Listener {
  /** The channel, or the pattern, as given to `listen`. */
  readonly target: ListenTarget;
  /** Stops this listener; other listeners on the same channel keep receiving. Idempotent. */
  close(): Promise<void>;
}

/** What a notifier reports while it runs. */
export type NotifierStatus =
  | { readonly type: 'disconnected'; readonly error: Error }
  | { readonly type: 'reconnected' }
  | { readonly type: 'handler-error'; readonly channel: string; readonly error: Error }
  | { readonly type: 'closed' };

/** Sends and receives notifications (at-most-once, see the module comment). */
export interface Notifier {
  /**
   * Sends `message` to the listeners connected right now. Resolves with how
   * many received it (0 when nobody listens: the message is gone). The message
   * must be JSON-serialisable.
   */
  notify(channel: string, message: unknown, options?: NotifyOptions): Promise<number>;
  /**
   * Starts listening; resolves once the subscription is active, so a
   * notification sent after that reaches `handler` (while the connection holds).
   * After a reconnect the subscription is renewed; what was sent while
   * disconnected is lost.
   */
  listen<T = unknown>(target: ListenTarget, handler: NotificationHandler<T>): Promise<Listener>;
  /** Status changes as they happen; ends when the notifier is closed. */
  status(): AsyncIterable<NotifierStatus>;
  /** Closes every listener and the notifier's connection. */
  close(): Promise<void>;
}
