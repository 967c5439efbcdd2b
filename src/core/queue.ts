/**
 * Work queues: each item is handled by ONE worker (competing consumers).
 * Transport-agnostic: nothing here knows about Redis.
 *
 * Guarantees:
 * - AT-LEAST-ONCE. An item pushed (the push resolved) is handled until a
 *   handler resolves for it, or it is dead-lettered after `maxAttempts`.
 * - An item is held by one worker at a time under a lease. The worker renews
 *   the leases of its running handlers; when a worker dies or stalls longer
 *   than the visibility timeout, its items go back to the queue for another
 *   worker. Only then can an item be handled twice (the first handler may still
 *   have run), so handlers must be idempotent.
 * - A handler that throws puts the item back at the end of the queue with its
 *   attempt count raised; after `maxAttempts` it goes to the dead list instead.
 * - Items are taken in push order (FIFO); retried and recovered items rejoin at the end.
 */
import type { StandardSchemaV1 } from './schema.ts';

/** What a worker's handler receives. */
export interface Job<T = unknown> {
  /** The queue's name. */
  readonly queue: string;
  /** Unique per pushed item (two pushes of equal data are two jobs). */
  readonly id: string;
  readonly data: T;
  /** 1 on the first delivery, 2 on the first retry, … */
  readonly attempt: number;
  /** When the item was pushed (RFC 3339). */
  readonly pushedAt: string;
}

/** Handles one job. Throwing (or rejecting) means "retry me". */
export type JobHandler<T = unknown> = (job: Job<T>) => void | Promise<void>;

export interface QueueOptions<T = unknown> {
  /** Validates every pushed item (zod, valibot, … any Standard Schema); a failure rejects the push and nothing is written. */
  readonly schema?: StandardSchemaV1<unknown, T>;
}

export interface WorkOptions {
  /** Handlers running at once in this worker. Default 10. */
  readonly concurrency?: number;
  /** How long a silent worker keeps its items before they are given to another worker. Default 30 s. */
  readonly visibilityTimeoutMs?: number;
  /** Deliveries before an item is dead-lettered. Default 5. */
  readonly maxAttempts?: number;
  /** Longest a worker waits on an empty queue before looking again. Default 2 s. */
  readonly blockMs?: number;
}

export interface WorkerCloseOptions {
  /** How long in-flight handlers may run on. Default 10 s. Items still running then are recovered by other workers after the visibility timeout. */
  readonly deadlineMs?: number;
}

/** What a worker reports, as a discriminated union. */
export type WorkerStatus =
  | { readonly type: 'ready' }
  | { readonly type: 'error'; readonly error: Error }
  | { readonly type: 'retry'; readonly id: string; readonly attempt: number; readonly error: Error }
  | {
      readonly type: 'dead-lettered';
      readonly id: string;
      readonly attempts: number;
      readonly error: Error;
    }
  /** Items of dead or stalled workers were put back (or dead-lettered) by this worker's reaper. */
  | { readonly type: 'reaped'; readonly requeued: number; readonly deadLettered: number }
  /** This worker's lease on an item ran out before its handler finished: another worker may handle it too. */
  | { readonly type: 'lease-lost'; readonly id: string }
  /** The worker lost Redis (unreachable, or a silent peer dropped); it keeps retrying. */
  | { readonly type: 'disconnected'; readonly error: Error }
  /** The worker took from the queue again after 'disconnected'. */
  | { readonly type: 'reconnected' }
  | { readonly type: 'closed' };

/** Counters of a worker since it started. */
export interface WorkerStats {
  readonly inFlight: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly deadLettered: number;
  readonly reaped: number;
  readonly leasesLost: number;
}

export interface Worker {
  /** Resolves once the worker is taking items. */
  readonly ready: Promise<void>;
  /** Stops taking items, lets in-flight handlers finish within the deadline, acknowledges what finished. */
  close(options?: WorkerCloseOptions): Promise<void>;
  /** Status changes as they happen; ends when the worker is closed. */
  status(): AsyncIterable<WorkerStatus>;
  stats(): WorkerStats;
}

/** An item that used up its attempts. */
export interface DeadItem<T = unknown> {
  readonly id: string;
  readonly data: T;
  readonly attempts: number;
  readonly reason: 'handler-failed' | 'lease-expired';
  readonly error: string;
  readonly deadLetteredAt: string;
}

export interface QueueCounts {
  /** Waiting to be taken. */
  readonly pending: number;
  /** Taken by a worker, not yet finished. */
  readonly processing: number;
  readonly dead: number;
}

export interface WorkQueue<T = unknown> {
  readonly name: string;
  /**
   * Appends items (an array pushes each element; wrap an array-valued item:
   * `push([[1, 2]])`). Resolves once they are stored, with the pending count.
   */
  push(items: T | readonly T[]): Promise<number>;
  /** Items waiting to be taken. */
  size(): Promise<number>;
  counts(): Promise<QueueCounts>;
  /** The dead list, oldest first. */
  dead(limit?: number): Promise<DeadItem<T>[]>;
  /** Starts a worker in this process. */
  work(handler: JobHandler<T>, options?: WorkOptions): Worker;
}

/** Opens work queues by name. */
export interface Queues {
  queue<T = unknown>(name: string, options?: QueueOptions<T>): WorkQueue<T>;
}
