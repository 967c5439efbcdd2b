/**
 * The port between the delivery engine (core/delivery-engine.ts) and a backend's transport.
 *
 * The engine decides everything about delivery that does not depend on the transport:
 * how many handlers run, middleware, decoding and schema validation, when to retry and
 * after which backoff, when to dead-letter, when to heartbeat and reclaim, and how to
 * close gracefully. A transport only moves events: it reads them, acknowledges them,
 * claims them back, dead-letters them and keeps them held. Models: Watermill's router
 * (`message/router.go`, one place decides ack/nack for every backend) and BullMQ's
 * LockManager behind a small context interface.
 *
 * Every method is called by the engine only; a transport never calls back into the
 * engine except through the `ReadSink` it is given.
 */
import type { Fields } from './codec.ts';
import type { SubscribeOptions, SubscriptionStatus } from './contract.ts';
import type { ResolvedSubscribeOptions } from './subscribe-options.ts';

/** What a transport is told about the subscription it serves. */
export interface TransportSettings extends ResolvedSubscribeOptions {
  readonly consumer: string;
  /** True when the user named the consumer (it may hold events from an earlier run). */
  readonly namedConsumer: boolean;
  readonly startFrom: NonNullable<SubscribeOptions<unknown>['startFrom']>;
}

/** A transport's handle on one partition of a topic. */
export interface PartitionRef {
  readonly partition: number;
}

/** One event the group gave to this consumer and that nobody acknowledged yet. */
export interface HeldEvent<P extends PartitionRef = PartitionRef> {
  readonly part: P;
  /** Its position in the partition (a stream entry id). */
  readonly position: string;
  /** The stored fields, as written by the publisher (or by a foreign producer). */
  readonly fields: Fields;
  /**
   * The same fields as the flat [f1, v1, f2, v2, …] list the store returned, when the transport
   * has it: the engine decodes from it without building `fields` (which may then be built only
   * when asked for).
   */
  readonly flat?: readonly string[];
  /** How often the group delivered it, this delivery included: the attempt number. */
  readonly attempt: number;
}

/** What the engine tells a transport when an event cannot be handled. */
export interface DeadLetterRequest {
  readonly reason: 'handler-failed' | 'undecodable';
  /** The error as text (`Name: message`). */
  readonly error: string;
}

/** The outcome of a dead-letter request. */
export type DeadLetterOutcome =
  /** Stored as a dead letter (at `position` in the dead letters, when the transport knows it) and acknowledged. */
  | { readonly position: string | undefined }
  /** No longer pending for the group (another consumer finished it): nothing was written. */
  | 'not-pending';

/** What a transport's readers use to hand events over and to respect the engine's limits. */
export interface ReadSink<P extends PartitionRef> {
  /** False once the subscription is closing: readers stop. */
  running(): boolean;
  /** Events to read per request. */
  readonly batchSize: number;
  /** Hands events over, in order. */
  deliver(events: readonly HeldEvent<P>[]): void;
  /** Resolves once the engine holds at most one batch (read-ahead is one batch), or it closes. */
  room(): Promise<void>;
  /** Waits `ms`, or less when the subscription closes. */
  pause(ms: number): Promise<void>;
  /** A read failed because the server could not be reached (status 'disconnected', logged once). */
  disconnected(error: Error): void;
  /** A read succeeded (status 'reconnected' after a 'disconnected'). */
  connected(): void;
  /** Something failed that the caller cannot see otherwise (status 'error'). */
  error(error: Error): void;
  /** Reports a status change (ordered transports: partitions assigned, revoked, fenced). */
  report(status: SubscriptionStatus): void;
  /** Ordered transports: resolves once no event of `part` waits to start (read ahead per partition). */
  drained(part: P): Promise<void>;
  /**
   * Ordered transports: stop handling `part` (handed over or lost). Its events not started are
   * dropped (they stay pending for the next owner); resolves once none of its events runs.
   */
  revoke(part: P): Promise<void>;
}

export interface DeliveryTransport<P extends PartitionRef> {
  /** What the transport talks to, for log lines ('Redis'). */
  readonly serverName: string;
  /**
   * Prepares reading: topic declaration, consumer groups, connections. A ConnectionError or
   * TimeoutError is retried by the engine with backoff (the server may be starting); any
   * other error rejects the subscription's `ready`.
   */
  open(): Promise<void>;
  /** Events this consumer name still holds (a consumer that keeps its name across restarts). */
  resumeOwn(): Promise<HeldEvent<P>[]>;
  /** Runs the readers until `stopReading()`; each read hands events to `sink.deliver`. */
  read(sink: ReadSink<P>): Promise<void>;
  /** Stops the readers now; events read but not handled stay pending for others to reclaim. */
  stopReading(): void;
  /**
   * Acknowledges one handled event (the transport may batch acknowledgements). An ordered
   * transport returns a promise that settles once the acknowledgement was accepted or
   * rejected by the fence (it never rejects): the engine waits for it before the partition's
   * next event.
   */
  acknowledge(event: HeldEvent<P>): void | Promise<void>;
  /**
   * Claims an event back for a retry, counting a delivery. Undefined once acknowledged elsewhere
   * or deleted. Rejects with an error naming the event when the server cannot be reached.
   */
  claim(event: HeldEvent<P>): Promise<HeldEvent<P> | undefined>;
  /**
   * Stores a dead letter, then acknowledges the event: never the other way round. Rejects when
   * the dead letter could not be stored (the event stays pending), with an error naming the
   * event (topic, partition, position).
   */
  deadLetter(event: HeldEvent<P>, request: DeadLetterRequest): Promise<DeadLetterOutcome>;
  /** Resets the idle time of events this consumer is still working on, without counting a delivery. */
  touch(events: readonly HeldEvent<P>[]): Promise<void>;
  /**
   * Takes over events other consumers held longer than the visibility timeout, at most
   * `room()` of them (`room` is asked again between partitions). `deleted` counts pending
   * events that no longer exist (trimmed before they were acknowledged).
   */
  claimIdle(room: () => number): Promise<{ events: HeldEvent<P>[]; deleted: number }>;
  /** Housekeeping after a reclaim pass (remove consumers long gone); optional. */
  housekeeping?(): Promise<void>;
  /** The last step of close: send what is unacknowledged; leave the group when nothing is held. */
  finish(holdsNothing: boolean): Promise<void>;
}
