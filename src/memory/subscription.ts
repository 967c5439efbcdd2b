/**
 * A consumer-group subscription in memory, with the Redis backend's semantics:
 * read up to `batchSize` ahead, run up to `concurrency` handlers, acknowledge
 * what succeeded, retry failures with backoff (the group's delivery count is
 * the attempt number) while later events keep flowing, dead-letter after
 * `maxAttempts`, and take over events that another subscription held longer
 * than the visibility timeout (it closed mid-way, or hangs).
 */
import { resolveSubscribeOptions } from '../core/subscribe-options.ts';
import { randomBytes } from 'node:crypto';
import { backoffDelay, type ResolvedBackoff } from '../core/backoff.ts';
import { Broadcast } from '../core/broadcast.ts';
import { derivedId, F } from '../core/codec.ts';
import {
  applyMiddleware,
  type CloseOptions,
  type Handler,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionStatus,
} from '../core/contract.ts';
import { DecodeError, ValidationError } from '../core/errors.ts';
import type { HeraldLogger } from '../core/logger.ts';
import type { Topic } from '../core/topic.ts';
import { moveToDeadLetters } from './dead-letters.ts';
import { toDelivery } from './decode.ts';
import type { GroupState, PendingEntry } from './group.ts';
import type { PartitionState } from './store.ts';

/** An event this subscription was given and has not finished. */
interface Job {
  readonly part: PartitionState;
  readonly group: GroupState;
  readonly pending: PendingEntry;
  readonly attempt: number;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

export class MemorySubscription<T> implements Subscription {
  readonly topic: string;
  readonly group: string;
  readonly consumer: string;
  readonly ready: Promise<void>;

  private readonly handler: Handler<T>;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly maxAttempts: number;
  private readonly visibilityMs: number;
  private readonly backoff: ResolvedBackoff;
  private readonly events = new Broadcast<SubscriptionStatus>();

  private groups: GroupState[] = [];
  private running = true;
  private readScheduled = false;
  private readonly queue: Job[] = [];
  private readonly inFlight = new Set<Job>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly unlisten: (() => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;

  constructor(
    private readonly topicDef: Topic<T>,
    private readonly partitions: readonly PartitionState[],
    private readonly options: SubscribeOptions<T>,
    handler: Handler<T>,
    private readonly logger: HeraldLogger,
  ) {
    const o = resolveSubscribeOptions(options);
    this.topic = topicDef.name;
    this.group = o.group;
    this.consumer = options.consumer ?? `memory-${process.pid}-${randomBytes(3).toString('hex')}`;
    this.concurrency = o.concurrency;
    this.batchSize = o.batchSize;
    this.maxAttempts = o.maxAttempts;
    this.visibilityMs = o.visibilityMs;
    this.backoff = o.backoff;
    this.handler = applyMiddleware(handler, options.middleware ?? []);
    this.ready = this.start();
  }

  status(): AsyncIterable<SubscriptionStatus> {
    return this.events.subscribe();
  }

  close(options?: CloseOptions): Promise<void> {
    this.closing ??= this.shutdown(options?.deadlineMs ?? 10_000);
    return this.closing;
  }

  // ---- start-up ------------------------------------------------------------

  private async start(): Promise<void> {
    // Start on a later tick, as a networked backend would: `status()` called right after subscribe sees 'ready'.
    await Promise.resolve();
    if (!this.running) return;
    const startFrom = this.options.startFrom ?? 'new';
    this.groups = this.partitions.map((p) => p.group(this.group, startFrom));
    for (const p of this.partitions) this.unlisten.push(p.stream.listen(() => this.scheduleRead()));
    // A subscription that reuses a consumer name first takes back what that consumer still holds.
    if (this.options.consumer !== undefined) {
      this.partitions.forEach((part, i) => {
        const group = this.groups[i] as GroupState;
        for (const held of group.heldBy(this.consumer)) {
          const claimed = group.claim(held.entry.position, this.consumer);
          if (claimed) this.queue.push({ part, group, pending: claimed, attempt: claimed.count });
        }
      });
    }
    this.scheduleReclaim();
    this.emit({ type: 'ready' });
    this.pump();
    this.scheduleRead();
  }

  private emit(s: SubscriptionStatus): void {
    this.events.push(s);
  }

  // ---- reading -------------------------------------------------------------

  private outstanding(): number {
    return this.queue.length + this.inFlight.size;
  }

  /** Reads on a later microtask, once per burst of appends. */
  private scheduleRead(): void {
    if (this.readScheduled || !this.running) return;
    this.readScheduled = true;
    queueMicrotask(() => {
      this.readScheduled = false;
      this.read();
    });
  }

  private read(): void {
    if (!this.running) return;
    this.partitions.forEach((part, i) => {
      const room = this.batchSize - this.outstanding();
      if (room <= 0) return;
      const group = this.groups[i] as GroupState;
      for (const pending of group.readNew(this.consumer, room)) {
        this.queue.push({ part, group, pending, attempt: pending.count });
      }
    });
    this.pump();
  }

  // ---- handling ------------------------------------------------------------

  private pump(): void {
    while (this.running && this.inFlight.size < this.concurrency && this.queue.length > 0) {
      const job = this.queue.shift() as Job;
      this.inFlight.add(job);
      void this.run(job);
    }
  }

  private async run(job: Job): Promise<void> {
    const { entry } = job.pending;
    try {
      const replayFor = entry.fields[F.replayFor];
      if (replayFor !== undefined && replayFor !== this.group) {
        job.group.ack(entry.position); // a dead letter replayed for another group
        return;
      }
      let delivery;
      try {
        delivery = await toDelivery(this.topicDef, entry, {
          topic: this.topic,
          partition: job.part.partition,
          group: this.group,
          consumer: this.consumer,
          position: entry.position,
          attempt: job.attempt,
        });
      } catch (e) {
        if (!(e instanceof DecodeError || e instanceof ValidationError)) throw e;
        this.deadLetter(job, 'undecodable', e);
        return;
      }
      try {
        await this.handler(delivery);
      } catch (e) {
        this.failed(job, e);
        return;
      }
      job.group.ack(entry.position);
    } catch (e) {
      this.emit({ type: 'error', error: asError(e) });
    } finally {
      this.inFlight.delete(job);
      this.afterRun();
    }
  }

  private afterRun(): void {
    this.pump();
    this.scheduleRead();
    if (this.inFlight.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private failed(job: Job, error: unknown): void {
    if (job.attempt >= this.maxAttempts) {
      this.deadLetter(job, 'handler-failed', error);
      return;
    }
    const delayMs = backoffDelay(this.backoff, job.attempt);
    const position = job.pending.entry.position;
    this.logger.info(
      {
        ...this.logFields(job),
        maxAttempts: this.maxAttempts,
        delayMs,
        error: errorText(error),
      },
      'herald: handler failed, retrying',
    );
    this.emit({
      type: 'retry',
      position,
      attempt: job.attempt,
      delayMs,
      error: asError(error),
    });
    // The event stays pending meanwhile; if this subscription closes first, another one reclaims it.
    this.later(delayMs, () => {
      const claimed = job.group.claim(position, this.consumer);
      if (claimed === undefined) return; // acknowledged elsewhere
      this.queue.push({ ...job, pending: claimed, attempt: claimed.count });
      this.pump();
    });
  }

  /** What every retry and dead-letter log line names (the same as the Redis backend's). */
  private logFields(job: Job): Record<string, unknown> {
    const { position, fields } = job.pending.entry;
    const partition = job.part.partition;
    const own = fields[F.id];
    return {
      topic: this.topic,
      group: this.group,
      partition,
      position,
      eventId:
        own !== undefined || this.topicDef.codec === 'raw'
          ? own
          : derivedId(this.topic, partition, position),
      attempt: job.attempt,
    };
  }

  private deadLetter(job: Job, reason: 'handler-failed' | 'undecodable', error: unknown): void {
    const moved = moveToDeadLetters(job.part, job.group, {
      group: this.group,
      entry: job.pending.entry,
      reason,
      error: errorText(error),
      attempts: job.attempt,
    });
    if (moved) {
      this.logger.warn(
        { ...this.logFields(job), reason, error: errorText(error) },
        'herald: event dead-lettered',
      );
      this.emit({
        type: 'dead-lettered',
        position: job.pending.entry.position,
        reason: `${reason}: ${errorText(error)}`,
      });
    }
  }

  // ---- reclaiming ----------------------------------------------------------

  private later(ms: number, fn: () => void): void {
    if (!this.running) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.running) fn();
    }, ms);
    this.timers.add(t);
  }

  private scheduleReclaim(): void {
    const every = Math.max(50, Math.floor(this.visibilityMs / 2));
    const jitter = Math.floor(Math.random() * Math.min(every / 4, 1000));
    this.later(every + jitter, () => {
      this.reclaim();
      this.scheduleReclaim();
    });
  }

  /** Keeps this subscription's running events from being taken over, and takes over idle ones. */
  private reclaim(): void {
    for (const job of this.inFlight) job.group.touch(job.pending.entry.position, this.consumer);
    let total = 0;
    this.partitions.forEach((part, i) => {
      const room = this.batchSize - this.outstanding();
      if (room <= 0) return;
      const group = this.groups[i] as GroupState;
      for (const pending of group.claimIdle(this.consumer, this.visibilityMs, room)) {
        this.queue.push({ part, group, pending, attempt: pending.count });
        total++;
      }
    });
    if (total > 0) {
      this.emit({ type: 'reclaimed', count: total });
      this.pump();
    }
  }

  // ---- closing -------------------------------------------------------------

  private async shutdown(deadlineMs: number): Promise<void> {
    this.running = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const stop of this.unlisten) stop();
    // Events read but not started stay pending: another subscription reclaims them after the visibility timeout.
    this.queue.length = 0;
    await this.ready.catch(() => {});
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs))),
      ]);
      clearTimeout(timer);
    }
    this.emit({ type: 'closed' });
    this.events.end();
  }
}
