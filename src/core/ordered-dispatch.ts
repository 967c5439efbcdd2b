/**
 * Which held event the delivery engine starts next: the one policy that differs between an
 * ordinary subscription and an ordered one (`ordered: true`).
 *
 * - `FifoJobs` (ordinary): events start in the order they arrived, up to `concurrency` at once.
 * - `OrderedJobs` (ordered): one event at a time per partition, in stream order. A partition
 *   stays blocked while its event runs and while a failed event waits for its retry; the
 *   claimed-back retry goes to the front of its partition, so the next event starts only once
 *   the failed one succeeded or was dead-lettered. Partitions take turns (round robin), so
 *   `concurrency` is the number of partitions handled at once.
 *
 * An ordered transport hands a partition over (rebalance) or loses it (fencing) with
 * `revoke(part)`: its queued events are dropped (they stay pending for the next owner) and
 * the returned promise resolves once none of its events runs. Partitions are told apart by
 * their `part` object: a transport makes a new one per ownership, so events of an earlier
 * ownership (a retry coming back late) are dropped.
 */
import type { HeldEvent, PartitionRef } from './delivery-port.ts';

/** An event held by a subscription: queued or running. */
export interface Job<P extends PartitionRef> {
  event: HeldEvent<P>;
  /** When this consumer last took it (read, claim or heartbeat): the transport's idle clock restarted then. */
  heldSince: number;
  /** Set when its handler failed and a retry is scheduled: its partition stays blocked (ordered). */
  retrying?: boolean;
}

export interface JobQueue<P extends PartitionRef> extends Iterable<Job<P>> {
  /** Jobs waiting to start. */
  readonly size: number;
  /** A newly read event. False when it was dropped (its partition was revoked). */
  add(job: Job<P>): boolean;
  /** A failed event claimed back for its retry. False when it was dropped. */
  addRetry(job: Job<P>): boolean;
  /** The next job allowed to start, now marked running; undefined when none may start. */
  next(): Job<P> | undefined;
  /** A job stopped running (handled, dead-lettered, or waiting for its retry when `retrying`). */
  finished(job: Job<P>): void;
  /** A job waiting for its retry will not come back (acknowledged elsewhere, fenced). */
  retryAbandoned(part: P): void;
  /** True once `part` was revoked: its events are no longer handled here. */
  isRevoked(part: P): boolean;
  /** Drops `part`'s queued jobs; resolves once none of its jobs runs. */
  revoke(part: P): Promise<void>;
  /** Resolves once no job of `part` is queued (an ordered reader reads ahead one batch per partition). */
  drained(part: P): Promise<void>;
  /** Drops every queued job (close). */
  clear(): void;
}

/** Ordinary subscriptions: first come, first started. */
export class FifoJobs<P extends PartitionRef> implements JobQueue<P> {
  private readonly queue: Job<P>[] = [];

  get size(): number {
    return this.queue.length;
  }

  [Symbol.iterator](): Iterator<Job<P>> {
    return this.queue[Symbol.iterator]();
  }

  add(job: Job<P>): boolean {
    this.queue.push(job);
    return true;
  }

  addRetry(job: Job<P>): boolean {
    return this.add(job);
  }

  next(): Job<P> | undefined {
    return this.queue.shift();
  }

  finished(): void {}

  retryAbandoned(): void {}

  isRevoked(): boolean {
    return false;
  }

  revoke(): Promise<void> {
    return Promise.resolve();
  }

  drained(): Promise<void> {
    return Promise.resolve();
  }

  clear(): void {
    this.queue.length = 0;
  }
}

interface PartitionLane<P extends PartitionRef> {
  readonly queue: Job<P>[];
  /** The job running, or waiting for its retry. */
  current: Job<P> | undefined;
  /** True while `current` runs (false while it waits for its retry). */
  running: boolean;
  idleWaiters: (() => void)[];
  drainWaiters: (() => void)[];
}

/** Ordered subscriptions: one job at a time per partition, in order, partitions in turn. */
export class OrderedJobs<P extends PartitionRef> implements JobQueue<P> {
  /** Insertion order is the round-robin order: a lane that starts a job moves to the end. */
  private readonly lanes = new Map<P, PartitionLane<P>>();
  private readonly revoked = new WeakSet<P>();
  private queued = 0;

  get size(): number {
    return this.queued;
  }

  *[Symbol.iterator](): Iterator<Job<P>> {
    for (const lane of this.lanes.values()) yield* lane.queue;
  }

  private lane(part: P): PartitionLane<P> {
    let lane = this.lanes.get(part);
    if (lane === undefined) {
      lane = { queue: [], current: undefined, running: false, idleWaiters: [], drainWaiters: [] };
      this.lanes.set(part, lane);
    }
    return lane;
  }

  add(job: Job<P>): boolean {
    if (this.revoked.has(job.event.part)) return false;
    this.lane(job.event.part).queue.push(job);
    this.queued++;
    return true;
  }

  addRetry(job: Job<P>): boolean {
    const part = job.event.part;
    if (this.revoked.has(part)) return false;
    const lane = this.lane(part);
    lane.current = undefined;
    lane.queue.unshift(job);
    this.queued++;
    return true;
  }

  next(): Job<P> | undefined {
    for (const [part, lane] of this.lanes) {
      if (lane.current !== undefined || lane.queue.length === 0) continue;
      const job = lane.queue.shift() as Job<P>;
      this.queued--;
      job.retrying = false;
      lane.current = job;
      lane.running = true;
      // Round robin: this partition goes behind the others.
      this.lanes.delete(part);
      this.lanes.set(part, lane);
      if (lane.queue.length === 0) wake(lane, 'drainWaiters');
      return job;
    }
    return undefined;
  }

  finished(job: Job<P>): void {
    const part = job.event.part;
    const lane = this.lanes.get(part);
    if (lane === undefined || lane.current !== job) return;
    lane.running = false;
    if (!job.retrying || this.revoked.has(part)) lane.current = undefined;
    wake(lane, 'idleWaiters');
    this.forget(part, lane);
  }

  retryAbandoned(part: P): void {
    const lane = this.lanes.get(part);
    if (lane === undefined || lane.running) return;
    lane.current = undefined;
    this.forget(part, lane);
  }

  isRevoked(part: P): boolean {
    return this.revoked.has(part);
  }

  revoke(part: P): Promise<void> {
    this.revoked.add(part);
    const lane = this.lanes.get(part);
    if (lane === undefined) return Promise.resolve();
    this.queued -= lane.queue.length;
    lane.queue.length = 0;
    wake(lane, 'drainWaiters');
    if (!lane.running) {
      lane.current = undefined;
      this.forget(part, lane);
      return Promise.resolve();
    }
    return new Promise((resolve) => lane.idleWaiters.push(resolve));
  }

  drained(part: P): Promise<void> {
    const lane = this.lanes.get(part);
    if (lane === undefined || lane.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => lane.drainWaiters.push(resolve));
  }

  clear(): void {
    for (const lane of this.lanes.values()) {
      lane.queue.length = 0;
      wake(lane, 'drainWaiters');
    }
    this.queued = 0;
  }

  /** A revoked partition's lane goes once nothing of it runs. */
  private forget(part: P, lane: PartitionLane<P>): void {
    if (this.revoked.has(part) && !lane.running && lane.queue.length === 0) {
      wake(lane, 'idleWaiters');
      this.lanes.delete(part);
    }
  }
}

function wake<P extends PartitionRef>(
  lane: PartitionLane<P>,
  which: 'idleWaiters' | 'drainWaiters',
): void {
  const waiters = lane[which];
  lane[which] = [];
  for (const w of waiters) w();
}
