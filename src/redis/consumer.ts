/**
 * A consumer-group subscription on a topic's streams.
 *
 * Reading: one blocking XREADGROUP over all partitions on a dedicated (on a
 * Cluster, where partitions live in different slots: one per partition, each on its own)
 * connection, COUNT = batchSize, read ahead while the previous batch is handled.
 * Acknowledging: finished events are collected and acknowledged with one XACK
 * per partition per tick. Retrying: a failed event stays pending in Redis; after
 * its backoff this consumer re-claims it (XCLAIM bumps Redis's delivery count,
 * which is the attempt number everyone sees) and runs it again, while later
 * events keep flowing. Reclaiming: events idle longer than the visibility
 * timeout (their consumer died or hangs, or a read's reply was lost with its
 * connection) are taken over with XAUTOCLAIM, walking the pending list with
 * its cursor, also while this consumer is busy; the events this consumer holds
 * (running or queued) are kept fresh with XCLAIM JUSTID so others leave them.
 * Dead-lettering: after maxAttempts, or when an entry cannot be decoded, the
 * dead-letter script moves it to the dead-letter stream and acknowledges it atomically.
 * Faults: while Redis is unreachable (also at start-up, and when a silent peer
 * made the connection drop the socket: see connection.ts) the subscription
 * reports 'disconnected', retries with backoff and reports 'reconnected'; a
 * group that vanished (Redis restarted without its data) is recreated from the
 * start of the stream.
 */
import { resolveSubscribeOptions } from '../core/subscribe-options.ts';
import { deadLetterFields } from '../core/dead-letter-fields.ts';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Broadcast } from '../core/broadcast.ts';
import {
  decodeEnvelope,
  decodeRaw,
  derivedId,
  F,
  pairs,
  type DecodeContext,
  type Fields,
} from '../core/codec.ts';
import {
  applyMiddleware,
  type CloseOptions,
  type Handler,
  type SubscribeOptions,
  type Subscription,
  type SubscriptionStatus,
} from '../core/contract.ts';
import { backoffDelay, type ResolvedBackoff } from '../core/backoff.ts';
import {
  ClosedError,
  ConnectionError,
  DecodeError,
  TimeoutError,
  ValidationError,
} from '../core/errors.ts';
import type { Delivery, HeraldEvent } from '../core/event.ts';
import { validate } from '../core/schema.ts';
import type { Topic } from '../core/topic.ts';
import type { HeraldLogger } from '../core/logger.ts';
import type { RedisConnection } from './connection.ts';
import { toHeraldError } from './errors.ts';
import { allPartitionKeys, type PartitionKeys } from './keys.ts';
import type { TopicRegistry } from './registry.ts';
import { loadScript, runScript } from './scripts.ts';
import { AckBatcher } from './consumer-acks.ts';
import { ensureGroups, removeConsumerIfIdle, removeGoneConsumers } from './consumer-group.ts';
import { autoclaim, touch, type RawEntry } from './consumer-reclaim.ts';

const deadLetterScript = loadScript('dead-letter');
/** Longest a read waits in Redis for new events before it is sent again. */
const READ_BLOCK_MS = 2000;

/** Observers for metrics (handler duration, failures, retries, dead letters, reclaims). */
export interface ConsumerHooks {
  onHandled?: (topic: string, group: string, seconds: number, ok: boolean) => void;
  onRetry?: (topic: string, group: string) => void;
  onDeadLettered?: (topic: string, group: string, reason: string) => void;
  onReclaimed?: (topic: string, group: string, count: number) => void;
  onTrimmedBeforeAck?: (topic: string, group: string, count: number) => void;
}

export interface ConsumerDeps {
  readonly conn: RedisConnection;
  readonly prefix: string;
  readonly registry: TopicRegistry;
  readonly hooks: ConsumerHooks;
  readonly logger: HeraldLogger;
}

interface Entry {
  readonly p: PartitionKeys;
  readonly position: string;
  readonly fields: Fields;
  attempt: number;
  /** When this consumer last took the entry (read, claim or heartbeat): Redis's idle clock restarted then. */
  heldSince: number;
}

/** RESP3 (node-redis's default) answers XREADGROUP with a map; RESP2 with a list of pairs. */
type ReadReply = Record<string, RawEntry[]> | [string, RawEntry[]][] | null;

function streamsOf(reply: Exclude<ReadReply, null>): [string, RawEntry[]][] {
  return Array.isArray(reply) ? reply : Object.entries(reply);
}

function defaultConsumerName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

export class StreamSubscription<T> implements Subscription {
  readonly topic: string;
  readonly group: string;
  readonly consumer: string;
  readonly ready: Promise<void>;

  private readonly parts: PartitionKeys[];
  private readonly byStream = new Map<string, PartitionKeys>();
  private readonly handler: Handler<T>;
  private readonly concurrency: number;
  private readonly batchSize: number;
  private readonly maxAttempts: number;
  private readonly visibilityMs: number;
  private readonly backoff: ResolvedBackoff;
  private readonly events = new Broadcast<SubscriptionStatus>();

  private running = true;
  /** Partitions read together by one blocking XREADGROUP, and the connection each group reads on. */
  private readonly readerGroups: PartitionKeys[][];
  private blockings: RedisConnection[] = [];
  private readonly queue: Entry[] = [];
  private readonly inFlight = new Set<Entry>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Wakes every pause() at once when the subscription closes. */
  private readonly pauses = new Set<() => void>();
  private readonly acks: AckBatcher;
  private readonly readerWakers = new Set<() => void>();
  private idleWaiters: (() => void)[] = [];
  private reclaimTimer: NodeJS.Timeout | undefined;
  private readLoopDone: Promise<void> = Promise.resolve();
  private disconnected = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly deps: ConsumerDeps,
    private readonly topicDef: Topic<T>,
    private readonly options: SubscribeOptions<T>,
    handler: Handler<T>,
  ) {
    const o = resolveSubscribeOptions(options);
    this.topic = topicDef.name;
    this.group = o.group;
    this.consumer = options.consumer ?? defaultConsumerName();
    this.concurrency = o.concurrency;
    this.batchSize = o.batchSize;
    this.maxAttempts = o.maxAttempts;
    this.visibilityMs = o.visibilityMs;
    this.backoff = o.backoff;
    this.parts = allPartitionKeys(deps.prefix, topicDef);
    // A Cluster refuses one read over keys of different slots (CROSSSLOT): read each partition apart.
    this.readerGroups = deps.conn.kind === 'cluster' ? this.parts.map((p) => [p]) : [this.parts];
    for (const p of this.parts) this.byStream.set(p.stream, p);
    this.handler = applyMiddleware(handler, options.middleware ?? []);
    this.acks = new AckBatcher(deps.conn, this.group);
    this.ready = this.start();
    this.ready.catch(() => {});
  }

  status(): AsyncIterable<SubscriptionStatus> {
    return this.events.subscribe();
  }

  private emit(s: SubscriptionStatus): void {
    this.events.push(s);
  }

  // ---- start-up ------------------------------------------------------------

  private startId(): string {
    const from = this.options.startFrom ?? 'new';
    if (from === 'new') return '$';
    if (from === 'beginning') return '0';
    return from.position;
  }

  private ensureGroups(start = this.startId()): Promise<void> {
    return ensureGroups(this.deps.conn, this.parts, this.group, start);
  }

  private async start(): Promise<void> {
    // Redis may be down or restarting when a service starts: wait for it, as a running
    // subscription does, instead of failing for good. Other errors (a topic declared
    // differently elsewhere) reject `ready`.
    let blockings: RedisConnection[];
    for (let failures = 1; ; failures++) {
      try {
        await this.deps.registry.ensure(this.topicDef);
        await this.ensureGroups();
        blockings = await Promise.all(this.readerGroups.map(() => this.deps.conn.duplicate()));
        break;
      } catch (e) {
        const err = toHeraldError(e, `subscribe to '${this.topic}'`);
        if (!this.running)
          throw new ClosedError(`subscription to '${this.topic}' was closed before it started`);
        if (!(err instanceof ConnectionError || err instanceof TimeoutError)) throw err;
        this.markDisconnected(err);
        await this.pause(Math.min(1000, 20 * 2 ** Math.min(failures, 6)));
      }
    }
    if (!this.running) {
      for (const b of blockings) b.destroy();
      return;
    }
    this.blockings = blockings;
    // A consumer that keeps its name across restarts first takes back what it still holds.
    if (this.options.consumer !== undefined) await this.resumeOwnPending().catch(() => {}); // else: reclaimed later
    this.readLoopDone = Promise.all(
      this.readerGroups.map((parts, i) => this.readLoop(parts, blockings[i] as RedisConnection)),
    ).then(() => {});
    this.scheduleReclaim();
    this.emit({ type: 'ready' });
  }

  private async resumeOwnPending(): Promise<void> {
    for (const p of this.parts) {
      const pending = await this.deps.conn.send<[string, string, number, number][]>(
        ['XPENDING', p.stream, this.group, '-', '+', '1000', this.consumer],
        { key: p.stream },
      );
      if (pending.length === 0) continue;
      const ids = pending.map((x) => x[0]);
      const claimed = await this.deps.conn.send<RawEntry[]>(
        ['XCLAIM', p.stream, this.group, this.consumer, '0', ...ids],
        { key: p.stream },
      );
      const counts = new Map(pending.map((x) => [x[0], Number(x[3]) + 1]));
      this.accept(p, claimed, (id) => counts.get(id) ?? 1);
    }
  }

  // ---- reading -------------------------------------------------------------

  private outstanding(): number {
    return this.queue.length + this.inFlight.size;
  }

  private async readLoop(parts: PartitionKeys[], conn: RedisConnection): Promise<void> {
    const streams = parts.map((p) => p.stream);
    const ids = parts.map(() => '>');
    // Within a third of the dead-peer bound, so a silent peer behind a blocked read is noticed
    // within the bound (the read's wait counts before its reply is overdue).
    const bound = conn.deadPeerTimeoutMs;
    const blockMs = String(
      bound > 0 ? Math.min(READ_BLOCK_MS, Math.floor(bound / 3)) : READ_BLOCK_MS,
    );
    let failures = 0;
    while (this.running) {
      if (this.outstanding() > this.batchSize) {
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            this.readerWakers.delete(wake);
            resolve();
          };
          this.readerWakers.add(wake);
        });
        continue;
      }
      try {
        const reply = await conn.send<ReadReply>(
          [
            'XREADGROUP',
            'GROUP',
            this.group,
            this.consumer,
            'COUNT',
            String(this.batchSize),
            'BLOCK',
            blockMs,
            'STREAMS',
            ...streams,
            ...ids,
          ],
          { key: streams[0] },
        );
        if (this.disconnected) this.markReconnected();
        failures = 0;
        if (!reply) continue;
        for (const [stream, entries] of streamsOf(reply)) {
          const p = this.byStream.get(stream);
          if (p) this.accept(p, entries, () => 1);
        }
      } catch (e) {
        if (!this.running) return;
        const msg = e instanceof Error ? e.message : String(e);
        if (msg.startsWith('NOGROUP')) {
          // The stream or group vanished (a Redis restarted without its data, or a deleted key).
          // Recreate it from the start of the stream, not from '$': every entry there now was
          // published after the group's start, and publishers are usually back before this read.
          await this.ensureGroups('0').catch(() => {});
        } else {
          this.markDisconnected(e instanceof Error ? e : new Error(msg));
        }
        failures++;
        await this.pause(Math.min(1000, 20 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  /** Reported once per outage (status and one log line), also for a silent peer the connection dropped. */
  private markDisconnected(error: Error): void {
    if (this.disconnected) return;
    this.disconnected = true;
    this.deps.logger.warn(
      { topic: this.topic, group: this.group, consumer: this.consumer, err: error },
      `subscription to '${this.topic}' lost Redis; retrying until it answers again`,
    );
    this.emit({ type: 'disconnected', error });
  }

  private markReconnected(): void {
    this.disconnected = false;
    this.deps.logger.info(
      { topic: this.topic, group: this.group, consumer: this.consumer },
      `subscription to '${this.topic}' reached Redis again`,
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

  /** Queues entries from a read or a claim. Entries deleted from the stream (null fields) are dropped. */
  private accept(p: PartitionKeys, entries: RawEntry[], attemptOf: (id: string) => number): void {
    const now = Date.now();
    for (const [position, flat] of entries) {
      if (!flat) continue;
      this.queue.push({
        p,
        position,
        fields: pairs(flat),
        attempt: attemptOf(position),
        heldSince: now,
      });
    }
    this.pump();
  }

  // ---- handling ------------------------------------------------------------

  private pump(): void {
    while (this.running && this.inFlight.size < this.concurrency && this.queue.length > 0) {
      const entry = this.queue.shift() as Entry;
      this.inFlight.add(entry);
      void this.run(entry);
    }
  }

  private decode(entry: Entry): HeraldEvent {
    const ctx: DecodeContext = {
      topic: this.topic,
      partition: entry.p.partition,
      position: entry.position,
      delivery: {
        topic: this.topic,
        partition: entry.p.partition,
        group: this.group,
        consumer: this.consumer,
        position: entry.position,
        attempt: entry.attempt,
      },
    };
    if (this.topicDef.codec === 'raw') {
      const fields = { ...entry.fields };
      delete fields[F.replayFor];
      return decodeRaw(fields, ctx, this.topicDef);
    }
    return decodeEnvelope(entry.fields, ctx);
  }

  private async run(entry: Entry): Promise<void> {
    try {
      const replayFor = entry.fields[F.replayFor];
      if (replayFor !== undefined && replayFor !== this.group) {
        this.ack(entry); // a dead letter replayed for another group
        return;
      }
      if (entry.attempt > this.maxAttempts) {
        // Delivered more often than allowed without ever failing in a handler: its consumers
        // died or hung on it (a poison event that crashes the process). Stop the cycle.
        await this.deadLetter(
          entry,
          'handler-failed',
          new Error(
            `delivered ${entry.attempt} times (maxAttempts ${this.maxAttempts}) without finishing: its consumers crashed or timed out`,
          ),
        );
        return;
      }
      let event: Delivery<T>;
      try {
        event = this.decode(entry) as Delivery<T>;
        if (this.topicDef.schema) {
          // The event object is this delivery's own: set the parsed data in place.
          (event as { data: unknown }).data = await validate(
            this.topicDef.schema,
            event.data,
            `data of entry ${entry.position}`,
          );
        }
      } catch (e) {
        if (e instanceof DecodeError || e instanceof ValidationError) {
          await this.deadLetter(entry, 'undecodable', e);
          return;
        }
        throw e;
      }
      const onHandled = this.deps.hooks.onHandled;
      const t0 = onHandled ? performance.now() : 0;
      try {
        const done = this.handler(event);
        // A synchronous handler costs no extra turn of the event loop.
        if (done !== undefined) await done;
      } catch (e) {
        onHandled?.(this.topic, this.group, (performance.now() - t0) / 1000, false);
        await this.failed(entry, e);
        return;
      }
      onHandled?.(this.topic, this.group, (performance.now() - t0) / 1000, true);
      this.ack(entry);
    } catch (e) {
      // Redis failed while dead-lettering: the event stays pending and is reclaimed later.
      this.emit({ type: 'error', error: e instanceof Error ? e : new Error(String(e)) });
    } finally {
      this.inFlight.delete(entry);
      this.afterRun();
    }
  }

  private afterRun(): void {
    this.pump();
    if (this.outstanding() <= this.batchSize) for (const wake of [...this.readerWakers]) wake();
    if (this.inFlight.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Names an event for logs and errors: topic, partition and position. */
  private where(entry: Entry): string {
    return `event at ${entry.position} of '${this.topic}' partition ${entry.p.partition}`;
  }

  private async failed(entry: Entry, error: unknown): Promise<void> {
    if (entry.attempt >= this.maxAttempts) {
      await this.deadLetter(entry, 'handler-failed', error);
      return;
    }
    const delayMs = backoffDelay(this.backoff, entry.attempt);
    this.deps.hooks.onRetry?.(this.topic, this.group);
    this.deps.logger.info(
      {
        topic: this.topic,
        group: this.group,
        partition: entry.p.partition,
        position: entry.position,
        eventId: this.eventIdOf(entry),
        attempt: entry.attempt,
        maxAttempts: this.maxAttempts,
        delayMs,
        error: errorText(error),
      },
      'herald: handler failed, retrying',
    );
    this.emit({
      type: 'retry',
      position: entry.position,
      attempt: entry.attempt,
      delayMs,
      error: error instanceof Error ? error : new Error(String(error)),
    });
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      void this.retry(entry);
    }, delayMs);
    this.retryTimers.add(timer);
  }

  /** The event's id for logs: its own, else the one derived from its position (envelope topics). */
  private eventIdOf(entry: Entry): string | undefined {
    const own = entry.fields[F.id];
    if (own !== undefined || this.topicDef.codec === 'raw') return own;
    return derivedId(this.topic, entry.p.partition, entry.position);
  }

  /** Claims the event back (bumping Redis's delivery count) and runs it again. */
  private async retry(entry: Entry): Promise<void> {
    if (!this.running) return;
    try {
      const claimed = await this.deps.conn.send<RawEntry[]>(
        ['XCLAIM', entry.p.stream, this.group, this.consumer, '0', entry.position],
        { key: entry.p.stream },
      );
      const first = claimed[0];
      if (!first || !first[1]) return; // acknowledged elsewhere, or trimmed
      this.queue.push({ ...entry, attempt: entry.attempt + 1, heldSince: Date.now() });
      this.pump();
    } catch (e) {
      // Could not reach Redis: leave it pending; the reclaimer will bring it back.
      this.emit({
        type: 'error',
        error: toHeraldError(e, `retry the ${this.where(entry)} (it stays pending)`),
      });
    }
  }

  /**
   * Moves the event to the dead letters. The script stores the dead letter before it
   * acknowledges: when it fails (Redis unreachable, out of memory, an entry too large),
   * the event stays pending, is reclaimed later, and the error names the event.
   */
  private async deadLetter(
    entry: Entry,
    reason: 'handler-failed' | 'undecodable',
    error: unknown,
  ): Promise<void> {
    const stored = deadLetterFields(entry.fields, {
      group: this.group,
      reason,
      error: errorText(error),
      attempts: entry.attempt,
      position: entry.position,
    });
    const fields = Object.entries(stored).flat();
    let pos: string | null;
    try {
      pos = await runScript<string | null>(
        this.deps.conn,
        deadLetterScript,
        [entry.p.stream, entry.p.dlq],
        [this.group, entry.position, ...fields],
      );
    } catch (e) {
      throw toHeraldError(e, `dead-letter the ${this.where(entry)} (it stays pending)`);
    }
    if (pos) {
      this.deps.hooks.onDeadLettered?.(this.topic, this.group, reason);
      this.deps.logger.warn(
        {
          topic: this.topic,
          group: this.group,
          partition: entry.p.partition,
          position: entry.position,
          eventId: this.eventIdOf(entry),
          attempt: entry.attempt,
          reason,
          deadLetter: pos,
          error: errorText(error),
        },
        'herald: event dead-lettered',
      );
      this.emit({
        type: 'dead-lettered',
        position: entry.position,
        reason: `${reason}: ${errorText(error)}`,
      });
    }
  }

  // ---- acknowledging -------------------------------------------------------

  private ack(entry: Entry): void {
    this.acks.add(entry.p, entry.position);
  }

  // ---- reclaiming ----------------------------------------------------------

  private scheduleReclaim(): void {
    if (!this.running) return;
    const every = Math.max(50, Math.floor(this.visibilityMs / 2));
    const jitter = Math.floor(Math.random() * Math.min(every / 4, 1000));
    this.reclaimTimer = setTimeout(() => {
      void this.reclaim().finally(() => this.scheduleReclaim());
    }, every + jitter);
  }

  private lastCleanup = Date.now();
  /** Where the next XAUTOCLAIM of each partition starts ('0-0' again once a pass is complete). */
  private readonly reclaimCursors = new Map<PartitionKeys, string>();

  private async reclaim(): Promise<void> {
    try {
      await this.heartbeat();
      let total = 0;
      for (const p of this.parts) {
        // A busy consumer still reclaims (its reader stops at 2 batches outstanding, this at 3):
        // skipping while busy would leave a dead consumer's events stuck for as long as the load lasts.
        if (!this.running || this.outstanding() >= 2 * this.batchSize) break;
        // XAUTOCLAIM examines at most 10 x COUNT pending entries per call: continue where it stopped,
        // or idle entries behind a long list of busy ones would never be reached.
        const claimed = await autoclaim(
          this.deps.conn,
          p,
          this.group,
          this.consumer,
          this.visibilityMs,
          this.reclaimCursors.get(p) ?? '0-0',
          this.batchSize,
        );
        this.reclaimCursors.set(p, claimed.next);
        if (claimed.deleted > 0)
          this.deps.hooks.onTrimmedBeforeAck?.(this.topic, this.group, claimed.deleted);
        if (claimed.live.length === 0) continue;
        total += claimed.live.length;
        this.accept(p, claimed.live, (id) => claimed.attempts.get(id) ?? 1);
      }
      if (total > 0) {
        this.deps.hooks.onReclaimed?.(this.topic, this.group, total);
        this.emit({ type: 'reclaimed', count: total });
      }
      await this.cleanupConsumers();
    } catch (e) {
      if (this.running)
        this.emit({ type: 'error', error: e instanceof Error ? e : new Error(String(e)) });
    }
  }

  /**
   * Keeps the events this consumer holds — running, or read and waiting for a handler slot —
   * from being reclaimed by others.
   */
  private async heartbeat(): Promise<void> {
    const now = Date.now();
    const threshold = now - this.visibilityMs / 3;
    const byPart = new Map<PartitionKeys, Entry[]>();
    for (const held of [this.inFlight, this.queue]) {
      for (const e of held) {
        if (e.heldSince >= threshold) continue;
        byPart.set(e.p, [...(byPart.get(e.p) ?? []), e]);
      }
    }
    if (byPart.size === 0) return;
    const parts = [...byPart];
    await touch(
      this.deps.conn,
      parts.map(([p, entries]) => [p, entries.map((e) => e.position)] as const),
      this.group,
      this.consumer,
      Math.floor(this.visibilityMs / 4),
    );
    for (const [, entries] of parts) for (const e of entries) e.heldSince = now;
  }

  /** Removes consumers that are long gone and hold nothing pending. */
  private async cleanupConsumers(): Promise<void> {
    const idleLimit = Math.max(2 * this.visibilityMs, 60_000);
    if (Date.now() - this.lastCleanup < idleLimit / 2) return;
    this.lastCleanup = Date.now();
    await removeGoneConsumers(this.deps.conn, this.parts, this.group, this.consumer, idleLimit);
  }

  // ---- closing -------------------------------------------------------------

  close(options?: CloseOptions): Promise<void> {
    this.closing ??= this.shutdown(options?.deadlineMs ?? 10_000);
    return this.closing;
  }

  private async shutdown(deadlineMs: number): Promise<void> {
    this.running = false;
    clearTimeout(this.reclaimTimer);
    for (const t of this.retryTimers) clearTimeout(t);
    this.retryTimers.clear();
    for (const wake of [...this.pauses]) wake();
    // Events read but not started stay pending: another consumer reclaims them after the visibility timeout.
    this.queue.length = 0;
    for (const b of this.blockings) b.destroy();
    for (const wake of [...this.readerWakers]) wake();
    await this.ready.catch(() => {});
    await this.readLoopDone.catch(() => {});
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => this.idleWaiters.push(resolve)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs))),
      ]);
      clearTimeout(timer);
    }
    // Acknowledge everything that finished.
    await this.acks.drain();
    // A consumer leaves its group only once it holds nothing pending (housekeeping: bounded wait).
    if (this.inFlight.size === 0) {
      await removeConsumerIfIdle(
        this.deps.conn,
        this.parts,
        this.group,
        this.consumer,
        0,
        2000,
      ).catch(() => {});
    }
    this.emit({ type: 'closed' });
    this.events.end();
  }
}
