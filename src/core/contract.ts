/**
 * The backend contract. A backend stores topics and delivers their events;
 * Redis is the one that matters, the in-memory one exists for users' unit
 * tests. Both pass the same conformance suite (src/testing, `herald/testing`), with what a
 * backend cannot offer declared in its `features`.
 *
 * Guarantees every backend must keep:
 * - `publish` resolves only once the event is stored; it rejects with a
 *   HeraldError otherwise (for Connection and Timeout errors the outcome is
 *   unknown: retry with the same `id`, which is deduplicated).
 * - Every consumer group receives every event published after the group's start position.
 * - Inside a group each event is handled by one consumer at a time, and is
 *   acknowledged only after its handler resolved (at-least-once).
 * - A handler that throws is retried with backoff up to `maxAttempts`; then the
 *   event is dead-lettered and later events are not held up.
 *
 * Ordered subscriptions (`ordered: true`) add, per consumer group:
 * - Each partition of the topic is owned by at most one running instance of the group at a
 *   time (a lease renewed by the owner); instances share the partitions evenly (partition i
 *   goes to the i-th live instance modulo their number, by name) and rebalance when one
 *   joins, closes or dies, within `rebalanceWithinMs` (default 15 s).
 * - Within a partition, events are handled one at a time in stream order, so events with the
 *   same `key` (which land in one partition) are handled in publish order. A failing event is
 *   retried before the next event of its partition; after `maxAttempts` it is dead-lettered
 *   and the partition moves on. `concurrency` bounds how many partitions are handled at once.
 * - Fencing: every read, acknowledgement, retry claim and dead letter of an ordered
 *   subscription is checked by Redis against the partition's ownership epoch, in the same
 *   script. An instance that lost a partition (paused, cut off, slow past its lease) has its
 *   late work rejected (OwnershipLostError, status 'partition-fenced') and stops handling it;
 *   the event goes to the new owner, which handles it again (at-least-once). Fencing cannot
 *   undo what a stale handler already did outside Herald: make side effects idempotent.
 */
import type { Delivery, OutgoingEvent, PublishReceipt } from './event.ts';
import type { Topic } from './topic.ts';

/** Handles one delivery. Throwing (or rejecting) means "retry me". */
export type Handler<T = unknown> = (event: Delivery<T>) => void | Promise<void>;

/** Wraps a handler: logging, metrics, idempotency, tracing… `handler => handler`. */
export type Middleware<T = unknown> = (next: Handler<T>) => Handler<T>;

/** Applies middleware so that the first one listed is the outermost. */
export function applyMiddleware<T>(
  handler: Handler<T>,
  middleware: readonly Middleware<T>[],
): Handler<T> {
  return middleware.reduceRight<Handler<T>>((h, m) => m(h), handler);
}

export interface BackoffOptions {
  /** Delay before the first retry. Default 100 ms. */
  readonly initialMs?: number;
  /** Upper bound of any delay. Default 30 s (kept below the visibility timeout). */
  readonly maxMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
}

/** Where a new consumer group starts. A group that exists resumes where it left off. */
export type StartFrom = 'new' | 'beginning' | { readonly position: string };

export interface SubscribeOptions<T = unknown> {
  /** The consumer group: every group gets every event; inside a group events are shared. */
  readonly group: string;
  /** This instance's name in the group. Default: host-pid-random (a restarted process is a new consumer). */
  readonly consumer?: string;
  /** Handlers running at once in this instance. Default 10. */
  readonly concurrency?: number;
  /** Events fetched per read. Default 100. */
  readonly batchSize?: number;
  /** Attempts before an event is dead-lettered. Default 5. */
  readonly maxAttempts?: number;
  readonly backoff?: BackoffOptions;
  /** An event held this long by a silent consumer is given to another. Default 30 s. */
  readonly visibilityTimeoutMs?: number;
  /** Default 'new'. */
  readonly startFrom?: StartFrom;
  readonly middleware?: readonly Middleware<T>[];
  /**
   * Per-key order across instances: each partition is owned by one instance of the group at a
   * time and handled one event after another, in stream order (see the guarantees at the top
   * of this file). The group should be used by ordered subscriptions only. `ready` resolves
   * once the instance takes part; the partitions it gets arrive as 'partition-assigned'
   * statuses. Default false.
   */
  readonly ordered?: boolean;
  /**
   * Ordered subscriptions: the bound within which the partitions of an instance that died (no
   * heartbeat: SIGKILL, a pause, a network cut) move to the others. The ownership lease is
   * 70 % of it and is renewed four times per lease; a closing instance hands its partitions
   * over at once. At least 1000 ms. Default 15 000 ms.
   */
  readonly rebalanceWithinMs?: number;
}

export interface CloseOptions {
  /** How long in-flight handlers may run on. Default 10 s. Unfinished events stay pending for others. */
  readonly deadlineMs?: number;
}

/** What a running subscription reports, as a discriminated union. */
export type SubscriptionStatus =
  | { readonly type: 'ready' }
  | { readonly type: 'disconnected'; readonly error: Error }
  | { readonly type: 'reconnected' }
  | { readonly type: 'reclaimed'; readonly count: number }
  | {
      readonly type: 'retry';
      /** The event's position in its partition. */
      readonly position: string;
      readonly attempt: number;
      readonly delayMs: number;
      readonly error: Error;
    }
  | {
      readonly type: 'dead-lettered';
      /** The event's position in its partition (before it was dead-lettered). */
      readonly position: string;
      readonly reason: string;
    }
  | { readonly type: 'error'; readonly error: Error }
  /** Ordered subscriptions: this instance now owns `partition` (under fencing `epoch`). */
  | { readonly type: 'partition-assigned'; readonly partition: number; readonly epoch: number }
  /** Ordered subscriptions: this instance handed `partition` over (rebalance or close). */
  | { readonly type: 'partition-revoked'; readonly partition: number; readonly epoch: number }
  /**
   * Ordered subscriptions: this instance lost `partition` without handing it over (its lease
   * expired: paused, cut off) and Redis rejected its work on it: `rejected` names what was
   * refused ('acknowledge', 'claim', 'dead-letter', 'read', 'renew'), or 'lease-expired' when
   * the instance stopped on its own because it could not renew in time.
   */
  | {
      readonly type: 'partition-fenced';
      readonly partition: number;
      readonly epoch: number;
      readonly rejected: OwnershipOperation;
      readonly error: Error;
    }
  | { readonly type: 'closed' };

/** What an ordered subscription does under its partition ownership (what fencing may reject). */
export type OwnershipOperation =
  'acknowledge' | 'claim' | 'dead-letter' | 'read' | 'renew' | 'lease-expired';

export interface Subscription {
  readonly topic: string;
  readonly group: string;
  readonly consumer: string;
  /** Resolves once the group exists and the first read is under way. */
  readonly ready: Promise<void>;
  /** Stops reading, lets in-flight handlers finish within the deadline, acknowledges what finished. */
  close(options?: CloseOptions): Promise<void>;
  /** Status changes as they happen; ends when the subscription is closed. */
  status(): AsyncIterable<SubscriptionStatus>;
}

/**
 * How durable a publish must be before it resolves.
 * - `primary` (default): stored by the primary (and its AOF, per its fsync policy).
 * - `replicated`: also confirmed by `replicas` replicas within `timeoutMs`
 *   (Redis WAIT); too few confirmations reject with a DurabilityError whose
 *   outcome is unknown, not failed.
 */
export type Durability =
  | { readonly mode: 'primary' }
  | { readonly mode: 'replicated'; readonly replicas: number; readonly timeoutMs?: number };

export interface PublishOptions {
  /** Give up after this long. Default 5 s. */
  readonly timeoutMs?: number;
  /** Overrides the topic's durability for this publish. */
  readonly durability?: Durability;
}

/** Something events can be published to. */
export interface Publisher {
  publish<T>(
    topic: Topic<T>,
    event: OutgoingEvent<T>,
    options?: PublishOptions,
  ): Promise<PublishReceipt>;
  /** Publishes several events in one round trip where the backend can. All are validated before any is written. */
  publishBatch<T>(
    topic: Topic<T>,
    events: readonly OutgoingEvent<T>[],
    options?: PublishOptions,
  ): Promise<PublishReceipt[]>;
}

/** Something events can be consumed from. */
export interface Subscriber {
  subscribe<T>(topic: Topic<T>, options: SubscribeOptions<T>, handler: Handler<T>): Subscription;
}

/** A dead-lettered event. */
export interface DeadLetter {
  /** The dead letter's own position in the dead-letter stream. */
  readonly position: string;
  readonly topic: string;
  readonly partition: number;
  readonly group: string;
  /** The event's position in its partition before it was dead-lettered. */
  readonly originalPosition: string;
  readonly eventId: string | undefined;
  readonly reason: 'handler-failed' | 'undecodable';
  readonly error: string;
  readonly attempts: number;
  readonly deadLetteredAt: string;
  /** The entry's fields as stored, for inspection. */
  readonly fields: Readonly<Record<string, string>>;
}

export interface DeadLetterFilter {
  readonly group?: string;
  readonly reason?: DeadLetter['reason'];
  readonly limit?: number;
}

export interface DeadLetters {
  list<T>(topic: Topic<T>, filter?: DeadLetterFilter): Promise<DeadLetter[]>;
  /**
   * Puts dead letters back on their partition, for their group only, one at a
   * time atomically: interrupting a replay neither loses nor duplicates an event.
   */
  replay<T>(
    topic: Topic<T>,
    filter?: DeadLetterFilter & { readonly onProgress?: (done: number, total: number) => void },
  ): Promise<number>;
  purge<T>(topic: Topic<T>, filter?: DeadLetterFilter): Promise<number>;
}

/** What a backend can and cannot do; the conformance suite skips nothing silently, it asserts these. */
export interface BackendFeatures {
  /** Survives a restart of the process that publishes. */
  readonly durable: boolean;
  /** Consumers in other processes share the group. */
  readonly crossProcess: boolean;
  readonly deadLetters: boolean;
  readonly partitions: boolean;
  readonly rawCodec: boolean;
}

export interface Backend extends Publisher, Subscriber {
  readonly name: string;
  readonly features: BackendFeatures;
  readonly deadLetters: DeadLetters;
  /** Closes every subscription (with their deadline) and the connections. */
  close(options?: CloseOptions): Promise<void>;
}
