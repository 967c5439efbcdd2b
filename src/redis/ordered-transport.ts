/**
 * The Redis transport of an ordered subscription (`ordered: true`): the delivery engine with
 * the ordered dispatch (core/ordered-dispatch.ts) handles one event at a time per partition;
 * this transport decides which partitions this instance reads, and fences everything it does.
 *
 * - Every tick (a quarter of the ownership lease) the instance heartbeats its membership,
 *   renews the partitions it owns, hands over those no longer assigned to it (after the event
 *   in hand finished and its acknowledgement was stored) and takes the free ones assigned to it
 *   (core/partition-assignment.ts; partition-ownership.ts).
 * - A partition just taken: first the group's pending events of that partition (whoever held
 *   them) are taken over in stream order, then new events are read. Reads are fenced scripts
 *   (ordered-read.lua); when nothing is new, a plain XREAD BLOCK after the stream's last
 *   position waits for the next event, on a connection of the partition's own.
 * - Acknowledgements, retry claims and dead letters run in scripts that check the partition's
 *   owner key against this ownership's token: a late one is rejected by Redis ('FENCED'). The
 *   instance then drops the partition and reports 'partition-fenced'.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { pairs } from '../core/codec.ts';
import type { Handler, OwnershipOperation, SubscribeOptions } from '../core/contract.ts';
import { deadLetterFields } from '../core/dead-letter-fields.ts';
import { DeliveryEngine } from '../core/delivery-engine.ts';
import type * as Port from '../core/delivery-port.ts';
import { OwnershipLostError } from '../core/errors.ts';
import { errorText, toError } from '../core/error-text.ts';
import { assignedPartitions, ownershipTiming } from '../core/partition-assignment.ts';
import type { Topic } from '../core/topic.ts';
import type { RedisConnection } from './connection.ts';
import type { ConsumerDeps } from './consumer.ts';
import {
  ensureGroups,
  groupStartId,
  removeConsumerIfIdle,
  removeGoneConsumers,
} from './consumer-group.ts';
import { isFenced, isNoGroup } from './error-kinds.ts';
import { toHeraldError } from './errors.ts';
import { allPartitionKeys, type PartitionKeys } from './keys.ts';
import { PartitionOwnership, type Ownership } from './partition-ownership.ts';
import { loadScript, runScript } from './scripts.ts';

const readScript = loadScript('ordered-read');
const ackScript = loadScript('ordered-ack');
const claimScript = loadScript('ordered-claim');
const deadLetterScript = loadScript('ordered-dead-letter');

/** Longest a wait for new events blocks in Redis before the partition's loop looks again. */
const WAIT_BLOCK_MS = 2000;
/** How much longer than its BLOCK a wait for new events may take before it is given up. */
const WAIT_REPLY_SLACK_MS = 5000;
/** Pause after a failed read or acknowledgement before the next attempt. */
const FAILURE_PAUSE_MS = 200;
/** A consumer idle this long with nothing pending is removed from the group (housekeeping). */
const MIN_GONE_IDLE_MS = 60_000;
/** How long handing partitions over and leaving may take at close. */
const LEAVE_DEADLINE_MS = 2000;

/** One partition as owned by this instance: a new object per ownership (epoch). */
export interface OrderedPart extends Port.PartitionRef, Ownership {
  readonly keys: PartitionKeys;
}

type Held = Port.HeldEvent<OrderedPart>;

/** An ordered subscription on Redis: the delivery engine with the ordered transport. */
export function subscribeOrdered<T>(
  deps: ConsumerDeps,
  topic: Topic<T>,
  options: SubscribeOptions<T>,
  handler: Handler<T>,
): DeliveryEngine<T, OrderedPart> {
  return new DeliveryEngine<T, OrderedPart>({
    topic,
    options,
    handler,
    defaultConsumer: `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    transport: (settings) => new OrderedRedisTransport(deps, topic, settings),
    hooks: deps.hooks,
    logger: deps.logger,
  });
}

/** A partition this instance owns, and its reading. */
interface Owned {
  readonly part: OrderedPart;
  /** False once handed over or lost: its loop stops. */
  active: boolean;
  releasing: boolean;
  /** When the lease was last renewed (local clock, taken before the renewal was sent). */
  renewedAt: number;
  /** The partition's own connection for XREAD BLOCK. */
  blocking: RedisConnection | undefined;
  loop: Promise<void>;
}

/** Acknowledgements of one ownership, sent in order. */
interface AckLane {
  positions: string[];
  scheduled: boolean;
  chain: Promise<void>;
}

/** Reply of ordered-read.lua. */
type ReadReply = [[string, string[], number | string][], string, number, string];

export class OrderedRedisTransport implements Port.DeliveryTransport<OrderedPart> {
  readonly serverName = 'Redis';
  private readonly parts: PartitionKeys[];
  private readonly ownership: PartitionOwnership;
  private readonly leaseMs: number;
  private readonly tickMs: number;
  private readonly owned = new Map<number, Owned>();
  private readonly acks = new Map<OrderedPart, AckLane>();
  private sink: Port.ReadSink<OrderedPart> | undefined;
  private stopped = false;
  private wakeTick: (() => void) | undefined;
  private lastCleanup = Date.now();

  constructor(
    private readonly deps: ConsumerDeps,
    private readonly topicDef: Topic<unknown>,
    private readonly settings: Port.TransportSettings,
  ) {
    this.parts = allPartitionKeys(deps.prefix, topicDef);
    const timing = ownershipTiming(settings.rebalanceWithinMs);
    this.leaseMs = timing.leaseMs;
    this.tickMs = timing.tickMs;
    this.ownership = new PartitionOwnership(
      deps.conn,
      deps.prefix,
      topicDef,
      settings.group,
      settings.consumer,
      this.leaseMs,
    );
  }

  private get conn(): RedisConnection {
    return this.deps.conn;
  }

  async open(): Promise<void> {
    try {
      await this.deps.registry.ensure(this.topicDef);
      await ensureGroups(
        this.conn,
        this.parts,
        this.settings.group,
        groupStartId(this.settings.startFrom),
      );
    } catch (e) {
      throw toHeraldError(e, `subscribe to '${this.topicDef.name}'`);
    }
  }

  /** Nothing: a partition's pending events are taken over when the partition is. */
  resumeOwn(): Promise<Held[]> {
    return Promise.resolve([]);
  }

  // ---- ownership -----------------------------------------------------------

  async read(sink: Port.ReadSink<OrderedPart>): Promise<void> {
    this.sink = sink;
    while (sink.running() && !this.stopped) {
      await this.rebalance(sink);
      await new Promise<void>((resolve) => {
        this.wakeTick = resolve;
        void sink.pause(this.tickMs).then(resolve);
      });
      this.wakeTick = undefined;
    }
    await Promise.all([...this.owned.values()].map((o) => o.loop));
  }

  stopReading(): void {
    this.stopped = true;
    for (const o of this.owned.values()) {
      o.active = false;
      o.blocking?.destroy();
    }
    this.wakeTick?.();
  }

  /** One tick: heartbeat, renew, hand over what is no longer ours, take what is. */
  private async rebalance(sink: Port.ReadSink<OrderedPart>): Promise<void> {
    const started = Date.now();
    let members: string[];
    try {
      members = await this.ownership.heartbeat();
      sink.connected();
    } catch (e) {
      sink.disconnected(toError(e));
      // Without renewals the leases run out: stop before another instance takes over.
      for (const o of [...this.owned.values()]) {
        if (started - o.renewedAt > this.leaseMs) this.fenced(o.part, 'lease-expired', toError(e));
      }
      return;
    }
    const assigned = assignedPartitions(members, this.settings.consumer, this.parts.length);
    await Promise.all(
      [...this.owned.values()].map(async (o) => {
        try {
          if (await this.ownership.renew(o.part)) o.renewedAt = started;
          else this.fenced(o.part, 'renew', this.lostError(o.part, 'renew its lease'));
        } catch (e) {
          if (started - o.renewedAt > this.leaseMs)
            this.fenced(o.part, 'lease-expired', toError(e));
        }
      }),
    );
    for (const o of this.owned.values()) {
      if (!assigned.has(o.part.partition) && !o.releasing) void this.handOver(o);
    }
    if (!sink.running() || this.stopped) return;
    await Promise.all(
      [...assigned]
        .filter((p) => !this.owned.has(p))
        .map(async (p) => {
          try {
            await this.take(this.parts[p] as PartitionKeys, sink, started);
          } catch (e) {
            sink.disconnected(toError(e));
          }
        }),
    );
  }

  private async take(
    keys: PartitionKeys,
    sink: Port.ReadSink<OrderedPart>,
    now: number,
  ): Promise<void> {
    const got = await this.ownership.acquire(keys);
    if (got === undefined) return;
    const part: OrderedPart = { partition: keys.partition, keys, ...got };
    if (!sink.running() || this.stopped) {
      await this.ownership.release(part).catch(() => {});
      return;
    }
    const o: Owned = {
      part,
      active: true,
      releasing: false,
      renewedAt: now,
      blocking: undefined,
      loop: Promise.resolve(),
    };
    this.owned.set(keys.partition, o);
    sink.report({ type: 'partition-assigned', partition: part.partition, epoch: part.epoch });
    this.deps.logger.info(
      this.logFields(part),
      `herald: ordered subscription took partition ${part.partition}`,
    );
    o.loop = this.readPartition(o, sink);
  }

  /** Hands a partition over: after its event in hand finished and its acknowledgements were stored. */
  private async handOver(o: Owned): Promise<void> {
    o.releasing = true;
    o.active = false;
    o.blocking?.destroy();
    const sink = this.sink;
    if (sink) await sink.revoke(o.part);
    await o.loop;
    await this.acks.get(o.part)?.chain;
    // Fenced meanwhile, or closing (finish() hands everything over).
    if (this.owned.get(o.part.partition) !== o || this.stopped) return;
    let released: boolean;
    try {
      released = await this.ownership.release(o.part, LEAVE_DEADLINE_MS);
    } catch {
      released = false; // the lease runs out by itself
    }
    this.owned.delete(o.part.partition);
    this.acks.delete(o.part);
    if (!released) {
      this.report(o.part, 'renew', this.lostError(o.part, 'hand it over'));
      return;
    }
    sink?.report({ type: 'partition-revoked', partition: o.part.partition, epoch: o.part.epoch });
  }

  /** This ownership is lost: stop handling the partition, report it (once). */
  private fenced(part: OrderedPart, rejected: OwnershipOperation, error: Error): void {
    const o = this.owned.get(part.partition);
    if (o === undefined || o.part !== part) {
      // Already dropped: a late acknowledgement of this ownership was rejected all the same.
      this.report(part, rejected, error);
      return;
    }
    this.owned.delete(part.partition);
    o.active = false;
    o.blocking?.destroy();
    void this.sink?.revoke(part);
    this.report(part, rejected, error);
  }

  private report(part: OrderedPart, rejected: OwnershipOperation, error: Error): void {
    this.deps.logger.warn(
      { ...this.logFields(part), rejected, err: errorText(error) },
      `herald: ordered subscription lost partition ${part.partition} (${rejected} rejected)`,
    );
    this.sink?.report({
      type: 'partition-fenced',
      partition: part.partition,
      epoch: part.epoch,
      rejected,
      error,
    });
  }

  private lostError(part: OrderedPart, what: string, cause?: unknown): OwnershipLostError {
    return new OwnershipLostError(
      `'${this.topicDef.name}' partition ${part.partition}: could not ${what}, ` +
        `ownership epoch ${part.epoch} was taken over by another instance`,
      { partition: part.partition, epoch: part.epoch, cause },
    );
  }

  private logFields(part: OrderedPart): Record<string, unknown> {
    return {
      topic: this.topicDef.name,
      group: this.settings.group,
      consumer: this.settings.consumer,
      partition: part.partition,
      epoch: part.epoch,
    };
  }

  // ---- reading -------------------------------------------------------------

  private async readPartition(o: Owned, sink: Port.ReadSink<OrderedPart>): Promise<void> {
    const { part } = o;
    let cursor: string | undefined = '0-0'; // the pending events first
    let failures = 0;
    while (o.active && sink.running()) {
      await sink.drained(part);
      if (!o.active || !sink.running()) return;
      try {
        const reply: ReadReply = await runScript<ReadReply>(
          this.conn,
          readScript,
          [part.keys.stream, part.ownerKey],
          [
            this.settings.group,
            part.token,
            this.settings.consumer,
            String(this.settings.batchSize),
            cursor === undefined ? 'new' : 'pending',
            cursor ?? '',
          ],
        );
        const [rows, next, deleted, top] = reply;
        failures = 0;
        if (!o.active) return; // a late reply of a partition handed over meanwhile
        if (Number(deleted) > 0) {
          this.deps.hooks.onTrimmedBeforeAck?.(
            this.topicDef.name,
            this.settings.group,
            Number(deleted),
          );
        }
        const events: Held[] = rows.map(([position, flat, deliveries]) => ({
          part,
          position: String(position),
          fields: pairs(flat),
          attempt: Math.max(1, Number(deliveries)),
        }));
        if (cursor !== undefined) {
          cursor = String(next) === '0-0' ? undefined : String(next);
          if (events.length > 0) sink.deliver(events);
          continue;
        }
        if (events.length > 0) {
          sink.deliver(events);
          continue;
        }
        await this.waitForNew(o, String(top));
      } catch (e) {
        if (!o.active || !sink.running()) return;
        if (isFenced(e)) {
          this.fenced(part, 'read', this.lostError(part, 'read', e));
          return;
        }
        if (isNoGroup(e)) {
          await ensureGroups(this.conn, [part.keys], this.settings.group, '0').catch(() => {});
        } else {
          sink.disconnected(toError(e));
        }
        failures++;
        await sink.pause(Math.min(1000, FAILURE_PAUSE_MS * failures));
      }
    }
  }

  /** Blocks until an event after `top` arrives (or a while passed), on the partition's connection. */
  private async waitForNew(o: Owned, top: string): Promise<void> {
    o.blocking ??= await this.conn.duplicate();
    if (!o.active) {
      o.blocking.destroy();
      return;
    }
    const bound = o.blocking.deadPeerTimeoutMs;
    const blockMs = bound > 0 ? Math.min(WAIT_BLOCK_MS, Math.floor(bound / 3)) : WAIT_BLOCK_MS;
    try {
      await o.blocking.send(
        ['XREAD', 'COUNT', '1', 'BLOCK', String(blockMs), 'STREAMS', o.part.keys.stream, top],
        { key: o.part.keys.stream, timeoutMs: blockMs + WAIT_REPLY_SLACK_MS },
      );
    } catch (e) {
      // A wait that failed or never came back: the next one gets a new connection.
      o.blocking.destroy();
      o.blocking = undefined;
      throw e;
    }
  }

  // ---- acknowledging, retrying, dead-lettering ------------------------------

  acknowledge(event: Held): Promise<void> {
    let lane = this.acks.get(event.part);
    if (lane === undefined) {
      lane = { positions: [], scheduled: false, chain: Promise.resolve() };
      this.acks.set(event.part, lane);
    }
    lane.positions.push(event.position);
    this.scheduleAcks(event.part, lane);
    return lane.chain;
  }

  private scheduleAcks(part: OrderedPart, lane: AckLane): void {
    if (lane.scheduled) return;
    lane.scheduled = true;
    // The engine waits for each acknowledgement before the partition's next event, so there is
    // rarely more than one to send: no wait for others (a microtask still gathers a burst).
    lane.chain = lane.chain.then(() => {
      lane.scheduled = false;
      return this.sendAcks(part, lane);
    });
  }

  private async sendAcks(part: OrderedPart, lane: AckLane): Promise<void> {
    const positions = lane.positions.splice(0);
    if (positions.length === 0) return;
    try {
      await runScript(
        this.conn,
        ackScript,
        [part.keys.stream, part.ownerKey],
        [this.settings.group, part.token, ...positions],
      );
    } catch (e) {
      if (isFenced(e)) {
        this.fenced(part, 'acknowledge', this.lostError(part, 'acknowledge', e));
        return;
      }
      // Not stored: the events stay pending (for this owner, or the next one) until it is.
      lane.positions.unshift(...positions);
      if (this.stopped && !this.owned.has(part.partition)) return;
      await new Promise((resolve) => setTimeout(resolve, FAILURE_PAUSE_MS));
      await this.sendAcks(part, lane);
    }
  }

  private where(event: Held): string {
    return `event at ${event.position} of '${this.topicDef.name}' partition ${event.part.partition}`;
  }

  async claim(event: Held): Promise<Held | undefined> {
    const p = event.part;
    let claimed: [string, string[] | null][];
    try {
      claimed = await runScript<[string, string[] | null][]>(
        this.conn,
        claimScript,
        [p.keys.stream, p.ownerKey],
        [this.settings.group, p.token, this.settings.consumer, event.position],
      );
    } catch (e) {
      if (isFenced(e)) {
        const error = this.lostError(p, `retry the ${this.where(event)}`, e);
        this.fenced(p, 'claim', error);
        throw error;
      }
      throw toHeraldError(e, `retry the ${this.where(event)} (it stays pending)`);
    }
    const first = claimed[0];
    if (!first || !first[1]) return undefined;
    return { ...event, attempt: event.attempt + 1 };
  }

  async deadLetter(event: Held, request: Port.DeadLetterRequest): Promise<Port.DeadLetterOutcome> {
    const p = event.part;
    const stored = deadLetterFields(event.fields, {
      group: this.settings.group,
      reason: request.reason,
      error: request.error,
      attempts: event.attempt,
      position: event.position,
    });
    // What was acknowledged before goes first: the dead letter must not overtake it.
    await this.acks.get(p)?.chain;
    let pos: string | null;
    try {
      pos = await runScript<string | null>(
        this.conn,
        deadLetterScript,
        [p.keys.stream, p.keys.dlq, p.ownerKey],
        [this.settings.group, event.position, p.token, ...Object.entries(stored).flat()],
      );
    } catch (e) {
      if (isFenced(e)) {
        const error = this.lostError(p, `dead-letter the ${this.where(event)}`, e);
        this.fenced(p, 'dead-letter', error);
        throw error;
      }
      throw toHeraldError(e, `dead-letter the ${this.where(event)} (it stays pending)`);
    }
    return pos ? { position: pos } : 'not-pending';
  }

  /** Nothing: only the partition's owner ever takes its events, and it takes all of them. */
  touch(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to reclaim by idle time: a new owner takes the partition's pending events over. */
  claimIdle(): Promise<{ events: Held[]; deleted: number }> {
    return Promise.resolve({ events: [], deleted: 0 });
  }

  /** Removes consumers long gone that hold nothing, from the partitions this instance owns. */
  async housekeeping(): Promise<void> {
    const idleLimit = Math.max(2 * this.settings.visibilityMs, MIN_GONE_IDLE_MS);
    if (Date.now() - this.lastCleanup < idleLimit / 2) return;
    this.lastCleanup = Date.now();
    const owned = [...this.owned.values()].filter((o) => o.active).map((o) => o.part.keys);
    await removeGoneConsumers(
      this.conn,
      owned,
      this.settings.group,
      this.settings.consumer,
      idleLimit,
    );
  }

  // ---- closing -------------------------------------------------------------

  async finish(holdsNothing: boolean): Promise<void> {
    this.stopped = true;
    const owned = [...this.owned.values()];
    await Promise.all(owned.map((o) => this.acks.get(o.part)?.chain ?? Promise.resolve()));
    await Promise.all(
      owned.map(async (o) => {
        const released = await this.ownership.release(o.part, LEAVE_DEADLINE_MS).catch(() => false);
        this.owned.delete(o.part.partition);
        if (released) {
          this.sink?.report({
            type: 'partition-revoked',
            partition: o.part.partition,
            epoch: o.part.epoch,
          });
        }
      }),
    );
    await this.ownership.leave(LEAVE_DEADLINE_MS).catch(() => {});
    if (holdsNothing) {
      await removeConsumerIfIdle(
        this.conn,
        this.parts,
        this.settings.group,
        this.settings.consumer,
        0,
        LEAVE_DEADLINE_MS,
      ).catch(() => {});
    }
  }
}
