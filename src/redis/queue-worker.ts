/**
 * A worker of a Redis work queue (see queue-items.ts for the key layout).
 *
 * Taking: `queue-take.lua` moves up to the free slots' worth of items from
 * pending to processing AND writes their leases in one atomic step, so there
 * is no moment at which an item sits in processing without a lease. When the
 * queue is empty the worker waits on its own connection with
 * `BLMOVE pending pending RIGHT RIGHT <blockMs>`: moving the tail of a list onto
 * its own tail changes nothing, so it is a pure "an item is there" signal that
 * cannot lose an item, even if the worker dies while blocked.
 *
 * Leases: a worker renews the leases of its running handlers every third of the
 * visibility timeout (`queue-extend.lua`), so only a dead or stalled worker
 * loses its items. Every worker runs the reaper (`queue-reap.lua`) at start and
 * then every half visibility timeout: expired leases put their items back.
 *
 * Finishing: successes are acknowledged in batches (one `queue-ack.lua` per
 * tick); a failure runs `queue-fail.lua` (requeue with attempt+1, or dead list).
 */
import { randomBytes } from 'node:crypto';
import { Broadcast } from '../core/broadcast.ts';
import { ConfigError, ConnectionError, TimeoutError } from '../core/errors.ts';
import type {
  Job,
  JobHandler,
  Worker,
  WorkerCloseOptions,
  WorkerStats,
  WorkerStatus,
  WorkOptions,
} from '../core/queue.ts';
import { errorText, toError } from '../core/error-text.ts';
import type { RedisConnection } from './connection.ts';
import { toHeraldError } from './errors.ts';
import { decodeItem, type QueueKeys } from './queue-items.ts';
import { loadScript, runScript } from './scripts.ts';

const takeScript = loadScript('queue-take');
const ackScript = loadScript('queue-ack');
const failScript = loadScript('queue-fail');
const extendScript = loadScript('queue-extend');
const reapScript = loadScript('queue-reap');

/** Leases and stranded items the reaper looks at per run. */
const REAP_BATCH = 100;
/** Most items one take asks for (Lua's unpack() has a stack limit of a few thousand). */
const TAKE_BATCH = 1000;
const MAX_ERROR_TEXT = 2000;

interface InFlight {
  readonly raw: string;
  readonly id: string;
  readonly lease: string;
  lost: boolean;
}

/** What a dead item records of its last failure: `Name: message`, cut to MAX_ERROR_TEXT. */
function failureText(e: unknown): string {
  return errorText(toError(e)).slice(0, MAX_ERROR_TEXT);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function positiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new ConfigError(`work option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

export class QueueWorker<T> implements Worker {
  readonly ready: Promise<void>;

  private readonly concurrency: number;
  private readonly visibilityMs: number;
  private readonly maxAttempts: number;
  private readonly blockMs: number;
  private readonly events = new Broadcast<WorkerStatus>();
  private readonly inFlight = new Map<string, InFlight>();
  private readonly counters = {
    succeeded: 0,
    failed: 0,
    deadLettered: 0,
    reaped: 0,
    leasesLost: 0,
  };

  private running = true;
  /** Set once close() finished: late handler completions are acknowledged once, best effort. */
  private closed = false;
  private blocking: RedisConnection | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private slotWaiters: (() => void)[] = [];
  private acks: InFlight[] = [];
  private ackFlushing: Promise<void> | undefined;
  private ackTimer: NodeJS.Timeout | undefined;
  private extendTimer: NodeJS.Timeout | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private disconnected = false;

  constructor(
    private readonly conn: RedisConnection,
    private readonly queueName: string,
    private readonly keys: QueueKeys,
    private readonly handler: JobHandler<T>,
    options: WorkOptions,
    private readonly onClosed: () => void,
  ) {
    this.concurrency = positiveInteger('concurrency', options.concurrency ?? 10);
    this.visibilityMs = positiveInteger(
      'visibilityTimeoutMs',
      options.visibilityTimeoutMs ?? 30_000,
    );
    this.maxAttempts = positiveInteger('maxAttempts', options.maxAttempts ?? 5);
    this.blockMs = positiveInteger('blockMs', options.blockMs ?? 2000);
    this.ready = this.start();
    this.ready.catch((e: unknown) => this.report(e));
  }

  status(): AsyncIterable<WorkerStatus> {
    return this.events.subscribe();
  }

  stats(): WorkerStats {
    return { inFlight: this.inFlight.size, ...this.counters };
  }

  close(options: WorkerCloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.deadlineMs ?? 10_000);
    return this.closing;
  }

  private async start(): Promise<void> {
    this.blocking = await this.conn.duplicate();
    if (!this.running) {
      this.blocking.destroy();
      return;
    }
    await this.reap();
    this.extendTimer = setInterval(
      () => void this.extendLeases(),
      Math.max(20, Math.floor(this.visibilityMs / 3)),
    );
    this.reapTimer = setInterval(
      () => void this.reap(),
      Math.max(50, Math.floor(this.visibilityMs / 2)),
    );
    this.loopDone = this.takeLoop();
    this.events.push({ type: 'ready' });
  }

  private report(e: unknown): void {
    if (!this.closed)
      this.events.push({ type: 'error', error: toHeraldError(e, `queue '${this.queueName}'`) });
  }

  private async takeLoop(): Promise<void> {
    let errorPause = 50;
    while (this.running) {
      const free = Math.min(TAKE_BATCH, this.concurrency - this.inFlight.size);
      if (free <= 0) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      try {
        const items = await runScript<string[]>(
          this.conn,
          takeScript,
          [this.keys.pending, this.keys.processing, this.keys.leases],
          [String(free), String(this.visibilityMs), randomBytes(8).toString('hex')],
        );
        for (const raw of items) this.begin(raw);
        this.markReconnected();
        if (items.length < free && this.running) await this.waitForItems();
        errorPause = 50;
      } catch (e) {
        if (!this.running) break;
        this.report(e);
        this.markDisconnected(e);
        await sleep(errorPause);
        errorPause = Math.min(errorPause * 2, 2000);
      }
    }
  }

  private markDisconnected(e: unknown): void {
    const error = toHeraldError(e, `queue '${this.queueName}'`);
    if (this.disconnected || !(error instanceof ConnectionError || error instanceof TimeoutError))
      return;
    this.disconnected = true;
    this.events.push({ type: 'disconnected', error });
  }

  private markReconnected(): void {
    if (!this.disconnected) return;
    this.disconnected = false;
    this.events.push({ type: 'reconnected' });
  }

  /**
   * Blocks until the pending list has an item (or blockMs passed), without taking it. The wait
   * is kept within a third of the connection's dead-peer bound, so a silent peer is noticed
   * within the bound even with a long blockMs (a shorter wait only means one more take).
   */
  private async waitForItems(): Promise<void> {
    const blocking = this.blocking;
    if (!blocking) return;
    const bound = blocking.deadPeerTimeoutMs;
    const waitMs = bound > 0 ? Math.min(this.blockMs, Math.floor(bound / 3)) : this.blockMs;
    const seconds = (waitMs / 1000).toFixed(3);
    await blocking.send(
      ['BLMOVE', this.keys.pending, this.keys.pending, 'RIGHT', 'RIGHT', seconds],
      {
        key: this.keys.pending,
      },
    );
  }

  private begin(raw: string): void {
    let decoded: ReturnType<typeof decodeItem<T>>;
    try {
      decoded = decodeItem<T>(this.queueName, raw);
    } catch (e) {
      // Unreadable: fail it like a handler error, so it ends in the dead list.
      const entry: InFlight = { raw, id: '?', lease: '', lost: false };
      this.inFlight.set(raw, entry);
      void this.fail(entry, 0, e);
      return;
    }
    const entry: InFlight = { raw, id: decoded.job.id, lease: decoded.lease, lost: false };
    this.inFlight.set(raw, entry);
    void this.run(entry, decoded.job);
  }

  private async run(entry: InFlight, job: Job<T>): Promise<void> {
    try {
      await this.handler(job);
    } catch (e) {
      await this.fail(entry, job.attempt, e);
      return;
    }
    this.counters.succeeded++;
    this.acks.push(entry);
    this.scheduleAckFlush(0);
  }

  private async fail(entry: InFlight, attempt: number, e: unknown): Promise<void> {
    this.counters.failed++;
    const error = toError(e);
    try {
      const outcome = await runScript<number>(
        this.conn,
        failScript,
        [this.keys.pending, this.keys.processing, this.keys.leases, this.keys.dead],
        [entry.raw, String(this.maxAttempts), failureText(e)],
      );
      if (outcome === 1) this.events.push({ type: 'retry', id: entry.id, attempt, error });
      if (outcome === 2) {
        this.counters.deadLettered++;
        this.events.push({ type: 'dead-lettered', id: entry.id, attempts: attempt, error });
      }
      if (outcome === 0) this.leaseLost(entry);
    } catch (err) {
      // The item keeps its lease until it runs out; then the reaper counts the attempt.
      this.report(err);
    }
    this.finish(entry);
  }

  private finish(entry: InFlight): void {
    this.inFlight.delete(entry.raw);
    const waiters = this.slotWaiters;
    this.slotWaiters = [];
    for (const w of waiters) w();
  }

  private leaseLost(entry: InFlight): void {
    if (entry.lost) return;
    entry.lost = true;
    this.counters.leasesLost++;
    this.events.push({ type: 'lease-lost', id: entry.id });
  }

  private scheduleAckFlush(delayMs: number): void {
    if (this.ackTimer !== undefined || this.ackFlushing !== undefined) return;
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      this.ackFlushing = this.flushAcks().finally(() => {
        this.ackFlushing = undefined;
        if (this.acks.length > 0) this.scheduleAckFlush(0);
      });
    }, delayMs);
  }

  /** One `queue-ack` for everything finished since the last flush; retried later if Redis fails. */
  private async flushAcks(): Promise<void> {
    const batch = this.acks;
    if (batch.length === 0) return;
    this.acks = [];
    try {
      const flags = await runScript<number[]>(
        this.conn,
        ackScript,
        [this.keys.processing, this.keys.leases],
        batch.map((b) => b.raw),
      );
      batch.forEach((entry, i) => {
        if (flags[i] !== 1) this.leaseLost(entry);
        this.finish(entry);
      });
    } catch (e) {
      this.report(e);
      if (this.closed) return; // the lease runs out and another worker takes the item over
      // Still held (the leases are renewed meanwhile): try again shortly.
      this.acks.unshift(...batch);
      if (this.ackTimer === undefined) {
        this.ackTimer = setTimeout(() => {
          this.ackTimer = undefined;
          this.scheduleAckFlush(0);
        }, 200);
      }
    }
  }

  private async extendLeases(): Promise<void> {
    const held = [...this.inFlight.values()].filter((e) => !e.lost && e.lease !== '');
    if (held.length === 0) return;
    try {
      const lost = await runScript<string[]>(
        this.conn,
        extendScript,
        [this.keys.leases],
        [String(this.visibilityMs), ...held.map((e) => e.lease)],
      );
      if (lost.length === 0) return;
      const gone = new Set(lost);
      for (const e of held) if (gone.has(e.lease) && this.inFlight.has(e.raw)) this.leaseLost(e);
    } catch (e) {
      this.report(e);
    }
  }

  private async reap(): Promise<void> {
    try {
      const [requeued = 0, deadLettered = 0] = await runScript<number[]>(
        this.conn,
        reapScript,
        [this.keys.pending, this.keys.processing, this.keys.leases, this.keys.dead],
        [String(this.maxAttempts), String(REAP_BATCH)],
      );
      if (requeued + deadLettered > 0) {
        this.counters.reaped += requeued + deadLettered;
        this.counters.deadLettered += deadLettered;
        this.events.push({ type: 'reaped', requeued, deadLettered });
      }
    } catch (e) {
      this.report(e);
    }
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    this.running = false;
    // Wakes a blocked BLMOVE (harmless: the command cannot lose an item).
    this.blocking?.destroy();
    for (const w of this.slotWaiters.splice(0)) w();
    await this.ready.catch(() => {});
    await this.loopDone;
    const deadline = Date.now() + deadlineMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) {
      if (this.acks.length > 0 && this.ackTimer === undefined && this.ackFlushing === undefined) {
        this.scheduleAckFlush(0);
      }
      await Promise.race([
        new Promise<void>((resolve) => this.slotWaiters.push(resolve)),
        sleep(Math.min(100, Math.max(1, deadline - Date.now()))),
      ]);
    }
    clearInterval(this.extendTimer);
    clearInterval(this.reapTimer);
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    await this.ackFlushing;
    this.closed = true;
    await this.flushAcks(); // finished just before the deadline; once, no retry
    this.events.push({ type: 'closed' });
    this.events.end();
    this.onClosed();
  }
}
