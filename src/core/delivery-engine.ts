/**
 * The delivery engine: one implementation of a consumer-group subscription's behaviour,
 * shared by every backend, which supplies only a transport (core/delivery-port.ts).
 *
 * - Reading ahead: the transport's readers hand over up to one batch beyond what runs.
 * - Handling: up to `concurrency` handlers at a time, wrapped by the middleware; the
 *   event is decoded and its data validated against the topic's schema first.
 * - Acknowledging: after the handler returns.
 * - Retrying: a failed event stays pending; after its backoff this consumer claims it back
 *   (the claim counts a delivery: the transport's delivery count is the attempt number)
 *   while later events keep flowing.
 * - Dead-lettering: after `maxAttempts`, for an event that cannot be decoded, and for one
 *   delivered more often than `maxAttempts` without a handler ever finishing (its consumers
 *   crashed on it). The event leaves the pending list only once its dead letter is stored.
 * - Reclaiming: every half visibility timeout, events held here get a heartbeat and events
 *   others held too long are taken over.
 * - Closing: reading stops, running handlers get until the deadline, what finished is
 *   acknowledged; events read but not started stay pending for others.
 * - Ordered subscriptions (`ordered: true`): one event at a time per partition, a failed one
 *   retried before the next (ordered-dispatch.ts), the next started once the acknowledgement
 *   was accepted; the transport owns partitions and revokes them (partition ownership).
 * Retries and dead letters are logged (one line each), connection losses too.
 */
import { backoffDelay } from './backoff.ts';
import { Broadcast } from './broadcast.ts';
import {
  decodeEnvelope,
  decodeEnvelopeFlat,
  decodeRaw,
  fieldOf,
  derivedId,
  EnvelopeField,
  type DecodeContext,
} from './codec.ts';
import {
  applyMiddleware,
  type CloseOptions,
  type Handler,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionStatus,
} from './contract.ts';
import type {
  DeliveryTransport,
  HeldEvent,
  PartitionRef,
  ReadSink,
  TransportSettings,
} from './delivery-port.ts';
import {
  ClosedError,
  ConnectionError,
  DecodeError,
  OwnershipLostError,
  TimeoutError,
  ValidationError,
} from './errors.ts';
import { errorText, toError } from './error-text.ts';
import type { Delivery, DeliveryInfo, HeraldEvent } from './event.ts';
import type { HeraldLogger } from './logger.ts';
import { FifoJobs, OrderedJobs, type Job, type JobQueue } from './ordered-dispatch.ts';
import { validate } from './schema.ts';
import { resolveSubscribeOptions } from './subscribe-options.ts';
import type { Topic } from './topic.ts';

/** Default time `close()` gives running handlers before it stops waiting for them. */
export const DEFAULT_CLOSE_DEADLINE_MS = 10_000;
/** Longest pause between attempts to reach an unreachable server (start-up). */
const MAX_RETRY_PAUSE_MS = 1000;

/** Observers for metrics (handler duration, failures, retries, dead letters, reclaims). */
export interface DeliveryHooks {
  onHandled?: (topic: string, group: string, seconds: number, ok: boolean) => void;
  onRetry?: (topic: string, group: string) => void;
  onDeadLettered?: (topic: string, group: string, reason: string) => void;
  onReclaimed?: (topic: string, group: string, count: number) => void;
  onTrimmedBeforeAck?: (topic: string, group: string, count: number) => void;
  /** Ordered subscriptions: `consumer` took (`assigned`), handed over (`revoked`) or lost (`fenced`) `partition`. */
  onPartitionOwnership?: (
    topic: string,
    group: string,
    consumer: string,
    change: 'assigned' | 'revoked' | 'fenced',
    partition: number,
  ) => void;
}

export interface DeliveryEngineOptions<T, P extends PartitionRef> {
  readonly topic: Topic<T>;
  readonly options: SubscribeOptions<T>;
  readonly handler: Handler<T>;
  /** The consumer name when the options give none. */
  readonly defaultConsumer: string;
  /** Builds the transport once the options are resolved. */
  readonly transport: (settings: TransportSettings) => DeliveryTransport<P>;
  readonly hooks?: DeliveryHooks;
  readonly logger: HeraldLogger;
}

class DeliveryMeta implements DeliveryInfo {
  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly group: string,
    readonly consumer: string,
    readonly position: string,
    readonly attempt: number,
  ) {}
}

export class DeliveryEngine<T, P extends PartitionRef> implements Subscription {
  readonly topic: string;
  readonly group: string;
  readonly consumer: string;
  readonly ready: Promise<void>;

  private readonly settings: TransportSettings;
  private readonly transport: DeliveryTransport<P>;
  private readonly handler: Handler<T>;
  private readonly hooks: DeliveryHooks;
  private readonly logger: HeraldLogger;
  private readonly topicDef: Topic<T>;
  private readonly statuses = new Broadcast<SubscriptionStatus>();

  private running = true;
  /** Events read and not started yet; which starts next (ordered-dispatch.ts). */
  private readonly queue: JobQueue<P>;
  private readonly inFlight = new Set<Job<P>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Wakes every pause() at once when the subscription closes. */
  private readonly pauses = new Set<() => void>();
  private readonly roomWaiters = new Set<() => void>();
  private idleWaiters: (() => void)[] = [];
  private readDone: Promise<void> = Promise.resolve();
  private readonly decodeContext: { -readonly [K in keyof DecodeContext]-?: DecodeContext[K] };
  /** True while `pump` starts jobs (a job that finishes meanwhile does not start another loop). */
  private pumping = false;
  private disconnected = false;
  private closing: Promise<void> | undefined;

  constructor(o: DeliveryEngineOptions<T, P>) {
    const resolved = resolveSubscribeOptions(o.options);
    this.topicDef = o.topic;
    this.topic = o.topic.name;
    this.group = resolved.group;
    this.consumer = o.options.consumer ?? o.defaultConsumer;
    this.settings = {
      ...resolved,
      consumer: this.consumer,
      namedConsumer: o.options.consumer !== undefined,
      startFrom: o.options.startFrom ?? 'new',
    };
    this.queue = resolved.ordered ? new OrderedJobs<P>() : new FifoJobs<P>();
    this.decodeContext = {
      topic: this.topic,
      partition: 0,
      position: '',
      delivery: {
        topic: this.topic,
        partition: 0,
        group: this.group,
        consumer: this.consumer,
        position: '',
        attempt: 0,
      },
    };
    this.transport = o.transport(this.settings);
    this.handler = applyMiddleware(o.handler, o.options.middleware ?? []);
    this.hooks = o.hooks ?? {};
    this.logger = o.logger;
    this.ready = this.start();
    this.ready.catch(() => {});
  }

  status(): AsyncIterable<SubscriptionStatus> {
    return this.statuses.subscribe();
  }

  private emit(s: SubscriptionStatus): void {
    this.statuses.push(s);
  }

  // ---- start-up ------------------------------------------------------------

  private async start(): Promise<void> {
    // The server may be down or restarting when a service starts: wait for it, as a running
    // subscription does, instead of failing for good. Other errors reject `ready`.
    for (let failures = 1; ; failures++) {
      try {
        await this.transport.open();
        break;
      } catch (e) {
        if (!this.running)
          throw new ClosedError(`subscription to '${this.topic}' was closed before it started`);
        if (!(e instanceof ConnectionError || e instanceof TimeoutError)) throw e;
        this.markDisconnected(e);
        await this.pause(retryPause(failures));
      }
    }
    if (!this.running) {
      this.transport.stopReading();
      return;
    }
    if (this.settings.namedConsumer) {
      // A consumer that keeps its name first takes back what it still holds (else: reclaimed later).
      this.accept(await this.transport.resumeOwn().catch(() => []));
    }
    this.readDone = this.transport.read(this.sink());
    this.scheduleReclaim();
    this.emit({ type: 'ready' });
  }

  private sink(): ReadSink<P> {
    // Arrow functions: the transport calls them unbound.
    return {
      running: () => this.running,
      batchSize: this.settings.batchSize,
      deliver: (events) => this.accept(events),
      room: () => this.room(),
      pause: (ms) => this.pause(ms),
      disconnected: (error) => this.markDisconnected(error),
      connected: () => this.markConnected(),
      error: (error) => this.emit({ type: 'error', error }),
      report: (status) => this.reportOwnership(status),
      drained: (part) => this.queue.drained(part),
      revoke: (part) => {
        const idle = this.queue.revoke(part);
        this.wakeReaders();
        return idle;
      },
    };
  }

  /** A transport's status change; ordered transports' ownership changes also go to the hooks. */
  private reportOwnership(s: SubscriptionStatus): void {
    const hook = this.hooks.onPartitionOwnership;
    if (hook !== undefined) {
      if (s.type === 'partition-assigned')
        hook(this.topic, this.group, this.consumer, 'assigned', s.partition);
      else if (s.type === 'partition-revoked')
        hook(this.topic, this.group, this.consumer, 'revoked', s.partition);
      else if (s.type === 'partition-fenced')
        hook(this.topic, this.group, this.consumer, 'fenced', s.partition);
    }
    this.emit(s);
  }

  private markDisconnected(error: Error): void {
    if (this.disconnected) return;
    this.disconnected = true;
    this.logger.warn(
      { topic: this.topic, group: this.group, consumer: this.consumer, err: errorText(error) },
      `subscription to '${this.topic}' lost ${this.transport.serverName}; retrying until it answers again`,
    );
    this.emit({ type: 'disconnected', error });
  }

  private markConnected(): void {
    if (!this.disconnected) return;
    this.disconnected = false;
    this.logger.info(
      { topic: this.topic, group: this.group, consumer: this.consumer },
      `subscription to '${this.topic}' reached ${this.transport.serverName} again`,
    );
    this.emit({ type: 'reconnected' });
  }

  /** Waits `ms`, or less when the subscription closes (a cancelled timer must not leave a loop hanging). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.pauses.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.pauses.add(done);
    });
  }

  // ---- reading -------------------------------------------------------------

  private outstanding(): number {
    return this.queue.size + this.inFlight.size;
  }

  private room(): Promise<void> {
    if (!this.running || this.outstanding() <= this.settings.batchSize) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.add(resolve));
  }

  private wakeReaders(): void {
    if (this.roomWaiters.size === 0) return; // the usual case: no copy per handled event
    const waiters = [...this.roomWaiters];
    this.roomWaiters.clear();
    for (const wake of waiters) wake();
  }

  private accept(events: readonly HeldEvent<P>[]): void {
    if (events.length === 0) return;
    const now = Date.now();
    let i = 0;
    if (!this.settings.ordered && !this.pumping && this.queue.size === 0) {
      // Nothing waits before these (first come, first started): start them straight from the
      // batch. An event handled synchronously then never needs a job (nor a queue entry).
      this.pumping = true;
      try {
        for (
          ;
          i < events.length && this.running && this.inFlight.size < this.settings.concurrency;
          i++
        ) {
          this.begin(events[i] as HeldEvent<P>, now, undefined);
        }
      } finally {
        this.pumping = false;
      }
    }
    for (; i < events.length; i++)
      this.queue.add({ event: events[i] as HeldEvent<P>, heldSince: now });
    this.pump();
  }

  // ---- handling ------------------------------------------------------------

  /**
   * Starts what may start. An event whose handler returns without a promise is handled to the
   * end here, synchronously (decode, handler, acknowledgement): no promise, no async frame and no
   * in-flight entry per event. Everything else (a promise from the handler, a schema, an ordered
   * acknowledgement, a failure, a dead letter) continues asynchronously in `run`/`handled`.
   */
  private pump(): void {
    if (this.pumping) return; // a job finishing inside the loop: the loop goes on
    this.pumping = true;
    try {
      while (this.running && this.inFlight.size < this.settings.concurrency) {
        const job = this.queue.next();
        if (job === undefined) break;
        this.begin(job.event, job.heldSince, job);
      }
    } finally {
      this.pumping = false;
    }
    if (this.outstanding() <= this.settings.batchSize) this.wakeReaders();
    if (this.inFlight.size === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Starts one event. `queued` is its queue entry when it came from the queue; an event started
   * straight from its batch (accept) gets one only if it continues asynchronously.
   */
  private begin(event: HeldEvent<P>, heldSince: number, queued: Job<P> | undefined): void {
    // The general path: a schema (validation may be async), a replayed dead letter, an event
    // delivered too often, an undecodable entry.
    let delivery: Delivery<T> | undefined;
    if (
      this.topicDef.schema === undefined &&
      event.attempt <= this.settings.maxAttempts &&
      replayForOf(event) === undefined
    ) {
      try {
        delivery = this.decode(event) as Delivery<T>;
      } catch {
        delivery = undefined; // `run` decodes it again and dead-letters it
      }
    }
    if (delivery === undefined) {
      const job = queued ?? { event, heldSince };
      this.track(job, this.run(job));
      return;
    }
    const onHandled = this.hooks.onHandled;
    const t0 = onHandled ? performance.now() : 0;
    let done: void | Promise<void>;
    try {
      done = this.handler(delivery);
    } catch (e) {
      const job = queued ?? { event, heldSince };
      this.track(job, this.handlerFailed(job, e, t0));
      return;
    }
    if (done !== undefined) {
      const job = queued ?? { event, heldSince };
      this.track(job, this.handled(job, done, t0));
      return;
    }
    onHandled?.(this.topic, this.group, (performance.now() - t0) / 1000, true);
    const stored = this.transport.acknowledge(event);
    if (stored !== undefined) {
      this.track(queued ?? { event, heldSince }, stored);
      return;
    }
    if (queued !== undefined) this.queue.finished(queued);
  }

  /** A job continuing asynchronously: in flight until `work` settles. */
  private track(job: Job<P>, work: Promise<void>): void {
    this.inFlight.add(job);
    work.then(
      () => this.settle(job),
      (e: unknown) => {
        // The server failed while dead-lettering: the event stays pending and is reclaimed later.
        // A lost partition (ordered) was reported by the transport as 'partition-fenced'.
        if (!(e instanceof OwnershipLostError)) this.emit({ type: 'error', error: toError(e) });
        this.settle(job);
      },
    );
  }

  private settle(job: Job<P>): void {
    this.inFlight.delete(job);
    this.queue.finished(job);
    this.pump();
  }

  private decode(event: HeldEvent<P>): HeraldEvent {
    // One context object reused for every event (decoding is synchronous and keeps only
    // `delivery`): one allocation less per event.
    const ctx = this.decodeContext;
    ctx.partition = event.part.partition;
    ctx.position = event.position;
    ctx.delivery = new DeliveryMeta(
      this.topic,
      event.part.partition,
      this.group,
      this.consumer,
      event.position,
      event.attempt,
    );
    if (this.topicDef.codec === 'raw') {
      const fields = { ...event.fields };
      delete fields[EnvelopeField.replayFor];
      return decodeRaw(fields, ctx, this.topicDef);
    }
    return event.flat !== undefined
      ? decodeEnvelopeFlat(event.flat, ctx)
      : decodeEnvelope(event.fields, ctx);
  }

  /** The general path of a job: checks, decoding and validation, then `handled`. */
  private async run(job: Job<P>): Promise<void> {
    const { event } = job;
    const replayFor = replayForOf(event);
    if (replayFor !== undefined && replayFor !== this.group) {
      await this.transport.acknowledge(event); // a dead letter replayed for another group
      return;
    }
    if (event.attempt > this.settings.maxAttempts) {
      // Delivered more often than allowed without ever failing in a handler: its consumers
      // died or hung on it (a poison event that crashes the process). Stop the cycle.
      const error = new Error(
        `delivered ${event.attempt} times (maxAttempts ${this.settings.maxAttempts}) without finishing: its consumers crashed or timed out`,
      );
      await this.deadLetter(event, 'handler-failed', error);
      return;
    }
    let delivery: Delivery<T>;
    try {
      delivery = this.decode(event) as Delivery<T>;
      if (this.topicDef.schema) {
        // The event object is this delivery's own: set the parsed data in place.
        (delivery as { data: unknown }).data = await validate(
          this.topicDef.schema,
          delivery.data,
          `data of entry ${event.position}`,
        );
      }
    } catch (e) {
      if (e instanceof DecodeError || e instanceof ValidationError) {
        await this.deadLetter(event, 'undecodable', e);
        return;
      }
      throw e;
    }
    const t0 = this.hooks.onHandled ? performance.now() : 0;
    let done: void | Promise<void>;
    try {
      done = this.handler(delivery);
    } catch (e) {
      await this.handlerFailed(job, e, t0);
      return;
    }
    await this.handled(job, done, t0);
  }

  /** After the handler was called: waits for it, then acknowledges, or retries / dead-letters. */
  private async handled(job: Job<P>, done: void | Promise<void>, t0: number): Promise<void> {
    const onHandled = this.hooks.onHandled;
    try {
      if (done !== undefined) await done;
    } catch (e) {
      await this.handlerFailed(job, e, t0);
      return;
    }
    onHandled?.(this.topic, this.group, (performance.now() - t0) / 1000, true);
    // Ordered transports: the partition's next event starts once Redis accepted this
    // acknowledgement under the partition's fence (a lost partition stops here).
    const stored = this.transport.acknowledge(job.event);
    if (stored !== undefined) await stored;
  }

  private async handlerFailed(job: Job<P>, error: unknown, t0: number): Promise<void> {
    this.hooks.onHandled?.(this.topic, this.group, (performance.now() - t0) / 1000, false);
    await this.failed(job, error);
  }

  private async failed(job: Job<P>, error: unknown): Promise<void> {
    const { event } = job;
    if (event.attempt >= this.settings.maxAttempts) {
      await this.deadLetter(event, 'handler-failed', error);
      return;
    }
    const delayMs = backoffDelay(this.settings.backoff, event.attempt);
    this.hooks.onRetry?.(this.topic, this.group);
    this.logger.info(
      {
        ...this.logFields(event),
        maxAttempts: this.settings.maxAttempts,
        delayMs,
        error: errorText(error),
      },
      'herald: handler failed, retrying',
    );
    this.emit({
      type: 'retry',
      position: event.position,
      attempt: event.attempt,
      delayMs,
      error: toError(error),
    });
    job.retrying = true;
    this.later(delayMs, () => void this.retry(event));
  }

  /** Claims the event back (counting a delivery) and runs it again. */
  private async retry(event: HeldEvent<P>): Promise<void> {
    if (this.queue.isRevoked(event.part)) return; // ordered: the partition went to another instance
    try {
      const claimed = await this.transport.claim(event);
      if (claimed === undefined) {
        this.queue.retryAbandoned(event.part); // acknowledged elsewhere, or deleted
        this.pump();
        return;
      }
      this.queue.addRetry({ event: claimed, heldSince: Date.now() });
      this.pump();
    } catch (e) {
      if (e instanceof OwnershipLostError) {
        this.queue.retryAbandoned(event.part);
        return;
      }
      this.emit({ type: 'error', error: toError(e) });
      // Could not reach the server: it stays pending. An ordered partition must not move past
      // it, so this consumer tries again; otherwise the reclaimer brings it back.
      if (this.settings.ordered) this.later(MAX_RETRY_PAUSE_MS, () => void this.retry(event));
    }
  }

  private async deadLetter(
    event: HeldEvent<P>,
    reason: 'handler-failed' | 'undecodable',
    error: unknown,
  ): Promise<void> {
    const text = errorText(error);
    const outcome = await this.transport.deadLetter(event, { reason, error: text });
    if (outcome === 'not-pending') return;
    this.hooks.onDeadLettered?.(this.topic, this.group, reason);
    this.logger.warn(
      { ...this.logFields(event), reason, deadLetter: outcome.position, error: text },
      'herald: event dead-lettered',
    );
    this.emit({ type: 'dead-lettered', position: event.position, reason: `${reason}: ${text}` });
  }

  /** What every retry and dead-letter log line names. */
  private logFields(event: HeldEvent<P>): Record<string, unknown> {
    return {
      topic: this.topic,
      group: this.group,
      partition: event.part.partition,
      position: event.position,
      eventId: this.eventIdOf(event),
      attempt: event.attempt,
    };
  }

  /** The event's id: its own, else the one derived from its position (envelope topics). */
  private eventIdOf(event: HeldEvent<P>): string | undefined {
    const own = event.fields[EnvelopeField.id];
    if (own !== undefined || this.topicDef.codec === 'raw') return own;
    return derivedId(this.topic, event.part.partition, event.position);
  }

  // ---- reclaiming ----------------------------------------------------------

  /** Runs `fn` after `ms` unless the subscription closed meanwhile. */
  private later(ms: number, fn: () => void): void {
    if (!this.running) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) fn();
    }, ms);
    this.timers.add(t);
  }

  private scheduleReclaim(): void {
    const every = Math.max(50, Math.floor(this.settings.visibilityMs / 2));
    const jitter = Math.floor(Math.random() * Math.min(every / 4, 1000));
    this.later(every + jitter, () => {
      void this.reclaim().finally(() => this.scheduleReclaim());
    });
  }

  private async reclaim(): Promise<void> {
    try {
      await this.heartbeat();
      // A busy consumer still reclaims (its readers stop at 2 batches outstanding, this at 3):
      // skipping while busy would leave a dead consumer's events stuck for as long as the load lasts.
      const room = (): number =>
        this.running ? 2 * this.settings.batchSize - this.outstanding() : 0;
      const { events, deleted } = await this.transport.claimIdle(room);
      if (deleted > 0) this.hooks.onTrimmedBeforeAck?.(this.topic, this.group, deleted);
      if (events.length > 0) {
        this.accept(events);
        this.hooks.onReclaimed?.(this.topic, this.group, events.length);
        this.emit({ type: 'reclaimed', count: events.length });
      }
      await this.transport.housekeeping?.();
    } catch (e) {
      if (this.running) this.emit({ type: 'error', error: toError(e) });
    }
  }

  /** Keeps the events held here — running, or read and waiting for a handler — from being reclaimed. */
  private async heartbeat(): Promise<void> {
    const now = Date.now();
    const threshold = now - this.settings.visibilityMs / 3;
    const stale: Job<P>[] = [];
    for (const held of [this.inFlight, this.queue] as Iterable<Job<P>>[])
      for (const job of held) if (job.heldSince < threshold) stale.push(job);
    if (stale.length === 0) return;
    await this.transport.touch(stale.map((j) => j.event));
    for (const job of stale) job.heldSince = now;
  }

  // ---- closing -------------------------------------------------------------

  close(options?: CloseOptions): Promise<void> {
    this.closing ??= this.shutdown(options?.deadlineMs ?? DEFAULT_CLOSE_DEADLINE_MS);
    return this.closing;
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const wake of [...this.pauses]) wake();
    // Events read but not started stay pending: another consumer reclaims them after the visibility timeout.
    this.queue.clear();
    this.transport.stopReading();
    this.wakeReaders();
    await this.ready.catch(() => {});
    await this.readDone.catch(() => {});
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs))),
      ]);
      clearTimeout(timer);
    }
    await this.transport.finish(this.inFlight.size === 0).catch(() => {});
    this.emit({ type: 'closed' });
    this.statuses.end();
  }
}

/** The group a replayed dead letter is meant for (other groups acknowledge it silently). */
function replayForOf(event: HeldEvent): string | undefined {
  return event.flat !== undefined
    ? fieldOf(event.flat, EnvelopeField.replayFor)
    : event.fields[EnvelopeField.replayFor];
}

/** 40 ms, 80 ms, … capped at a second. */
function retryPause(failures: number): number {
  return Math.min(MAX_RETRY_PAUSE_MS, 20 * 2 ** Math.min(failures, 6));
}
