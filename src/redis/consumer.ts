/**
 * The Redis transport of a consumer-group subscription (the delivery engine in
 * core/delivery-engine.ts decides everything else).
 *
 * Reading: one blocking XREADGROUP over all partitions on a dedicated connection (on a
 * Cluster, where partitions live in different slots: one per partition, each on its own),
 * COUNT = batchSize. Acknowledging: one XACK per partition per tick (consumer-acks.ts).
 * Retrying: XCLAIM, which bumps Redis's delivery count, the attempt number everyone sees.
 * Reclaiming: XAUTOCLAIM walking the pending list with its cursor; held events are kept
 * fresh with XCLAIM JUSTID (consumer-reclaim.ts). Dead-lettering: the dead-letter script
 * stores the dead letter and acknowledges, atomically. A group that vanished (Redis
 * restarted without its data) is recreated from the start of the stream. A silent peer makes
 * the connection drop the socket (connection.ts): the read fails and is sent again.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { deadLetterFields } from '../core/dead-letter-fields.ts';
import { pairs, type Fields } from '../core/codec.ts';
import type { Handler, SubscribeOptions } from '../core/contract.ts';
import { DeliveryEngine, type DeliveryHooks } from '../core/delivery-engine.ts';
import type * as Port from '../core/delivery-port.ts';
import { toError } from '../core/error-text.ts';
import type { HeraldLogger } from '../core/logger.ts';
import type { Topic } from '../core/topic.ts';
import { DropSignal, type RedisConnection, type SendOptions } from './connection.ts';
import { blockingMsOf } from './dead-peer.ts';
import { isNoGroup } from './error-kinds.ts';
import { toHeraldError } from './errors.ts';
import { allPartitionKeys, type PartitionKeys } from './keys.ts';
import type { TopicRegistry } from './registry.ts';
import { loadScript, runScript } from './scripts.ts';
import { AckBatcher } from './consumer-acks.ts';
import {
  ensureGroups,
  groupStartId,
  removeConsumerIfIdle,
  removeGoneConsumers,
} from './consumer-group.ts';
import { autoclaim, touch, type RawEntry } from './consumer-reclaim.ts';

const deadLetterScript = loadScript('dead-letter');

/** Longest a read waits in Redis for new events before it is sent again. */
export const READ_BLOCK_MS = 2000;
/**
 * How long a read may wait to be written while the connection is down (node-redis's default
 * command timeout, which bounded it before): after it the read is dropped and sent again.
 */
const READ_WRITE_WAIT_MS = 5000;
/** Longest pause between reads while Redis cannot be reached. */
const MAX_READ_RETRY_PAUSE_MS = 1000;
/** Pending entries a consumer that keeps its name takes back at start-up, per partition. */
const RESUME_LIMIT = 1000;
/** How long leaving the group at close may take (housekeeping: the group works without it). */
const LEAVE_GROUP_DEADLINE_MS = 2000;

export interface ConsumerDeps {
  readonly conn: RedisConnection;
  readonly prefix: string;
  readonly registry: TopicRegistry;
  readonly hooks: DeliveryHooks;
  readonly logger: HeraldLogger;
}

/** RESP3 (node-redis's default) answers XREADGROUP with a map; RESP2 with a list of pairs. */
type ReadReply = Record<string, RawEntry[]> | [string, RawEntry[]][] | null;

function defaultConsumerName(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** A consumer-group subscription on Redis: the delivery engine with the Redis transport. */
export function subscribeStream<T>(
  deps: ConsumerDeps,
  topic: Topic<T>,
  options: SubscribeOptions<T>,
  handler: Handler<T>,
): DeliveryEngine<T, PartitionKeys> {
  return new DeliveryEngine<T, PartitionKeys>({
    topic,
    options,
    handler,
    defaultConsumer: defaultConsumerName(),
    transport: (settings) => new RedisTransport(deps, topic, settings),
    hooks: deps.hooks,
    logger: deps.logger,
  });
}

type Held = Port.HeldEvent<PartitionKeys>;

export class RedisTransport implements Port.DeliveryTransport<PartitionKeys> {
  readonly serverName = 'Redis';
  private readonly parts: PartitionKeys[];
  private readonly byStream = new Map<string, PartitionKeys>();
  /** Partitions read together by one blocking XREADGROUP. */
  private readonly readerGroups: PartitionKeys[][];
  private blockings: RedisConnection[] = [];
  private readonly acks: AckBatcher;
  private stopped = false;
  private lastCleanup = Date.now();
  /** Where the next XAUTOCLAIM of each partition starts ('0-0' again once a pass is complete). */
  private readonly reclaimCursors = new Map<PartitionKeys, string>();

  constructor(
    private readonly deps: ConsumerDeps,
    private readonly topicDef: Topic<unknown>,
    private readonly settings: Port.TransportSettings,
  ) {
    this.parts = allPartitionKeys(deps.prefix, topicDef);
    // A Cluster refuses one read over keys of different slots (CROSSSLOT): read each partition apart.
    this.readerGroups = deps.conn.kind === 'cluster' ? this.parts.map((p) => [p]) : [this.parts];
    for (const p of this.parts) this.byStream.set(p.stream, p);
    this.acks = new AckBatcher(deps.conn, settings.group);
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
      const blockings = await Promise.all(this.readerGroups.map(() => this.conn.duplicate()));
      if (this.stopped) for (const b of blockings) b.destroy();
      else this.blockings = blockings;
    } catch (e) {
      throw toHeraldError(e, `subscribe to '${this.topicDef.name}'`);
    }
  }

  async resumeOwn(): Promise<Held[]> {
    const { group, consumer } = this.settings;
    const out: Held[] = [];
    for (const p of this.parts) {
      const pending = await this.conn.send<[string, string, number, number][]>(
        ['XPENDING', p.stream, group, '-', '+', String(RESUME_LIMIT), consumer],
        { key: p.stream },
      );
      if (pending.length === 0) continue;
      const claimed = await this.conn.send<RawEntry[]>(
        ['XCLAIM', p.stream, group, consumer, '0', ...pending.map((x) => x[0])],
        { key: p.stream },
      );
      const counts = new Map(pending.map((x) => [x[0], Number(x[3]) + 1]));
      out.push(...held(p, claimed, (id) => counts.get(id) ?? 1));
    }
    return out;
  }

  // ---- reading -------------------------------------------------------------

  read(sink: Port.ReadSink<PartitionKeys>): Promise<void> {
    return Promise.all(
      this.readerGroups.map((parts, i) =>
        this.readLoop(parts, this.blockings[i] as RedisConnection, sink),
      ),
    ).then(() => {});
  }

  private async readLoop(
    parts: PartitionKeys[],
    conn: RedisConnection,
    sink: Port.ReadSink<PartitionKeys>,
  ): Promise<void> {
    const { group, consumer, batchSize } = this.settings;
    const streams = parts.map((p) => p.stream);
    const ids = parts.map(() => '>');
    // Within a third of the dead-peer bound, so a silent peer behind a blocked read is noticed
    // within the bound (the read's wait counts before its reply is overdue).
    const bound = conn.deadPeerTimeoutMs;
    const blockMs = String(
      bound > 0 ? Math.min(READ_BLOCK_MS, Math.floor(bound / 3)) : READ_BLOCK_MS,
    );
    // The read's wait to be written is bounded here instead of by node-redis's default command
    // timeout, which arms an AbortSignal.timeout and a listener per command (about 25 µs, once
    // per read: at a few events per read, more than Herald's whole per-event work). `offline`
    // reaches node-redis only while the connection is down (connection.ts), and only then arms a
    // timer that drops the read still waiting to be written, as node-redis's timeout did: a
    // read on a ready connection costs no timer. Once written, the wait for the reply is bounded
    // by the dead-peer watchdog, as before.
    const offline = new DropSignal(READ_WRITE_WAIT_MS);
    // The same read every time: its arguments and options are made once.
    const read = [
      'XREADGROUP',
      'GROUP',
      group,
      consumer,
      'COUNT',
      String(batchSize),
      'BLOCK',
      blockMs,
      'STREAMS',
      ...streams,
      ...ids,
    ];
    const readOptions: SendOptions = {
      key: streams[0],
      timeoutMs: READ_WRITE_WAIT_MS,
      replyTimer: false,
      drop: offline,
      blockMs: blockingMsOf(read),
    };
    let failures = 0;
    while (sink.running()) {
      await sink.room();
      if (!sink.running()) return;
      try {
        const reply = await conn.send<ReadReply>(read, readOptions);
        offline.settled();
        sink.connected();
        failures = 0;
        if (!reply) continue;
        if (Array.isArray(reply)) {
          for (const [stream, entries] of reply) this.deliverRead(sink, stream, entries);
        } else {
          for (const stream in reply) this.deliverRead(sink, stream, reply[stream] as RawEntry[]);
        }
      } catch (e) {
        offline.settled();
        if (!sink.running()) return;
        if (isNoGroup(e)) {
          // The stream or group vanished (a Redis restarted without its data, or a deleted key).
          // Recreate it from the start of the stream, not from '$': every entry there now was
          // published after the group's start, and publishers are usually back before this read.
          await ensureGroups(this.conn, this.parts, group, '0').catch(() => {});
        } else {
          sink.disconnected(toError(e));
        }
        failures++;
        await sink.pause(Math.min(MAX_READ_RETRY_PAUSE_MS, 20 * 2 ** Math.min(failures, 6)));
      }
    }
  }

  private deliverRead(
    sink: Port.ReadSink<PartitionKeys>,
    stream: string,
    entries: readonly RawEntry[],
  ): void {
    const p = this.byStream.get(stream);
    if (p) sink.deliver(held(p, entries, firstAttempt));
  }

  stopReading(): void {
    this.stopped = true;
    for (const b of this.blockings) b.destroy();
  }

  // ---- acknowledging, retrying, dead-lettering ------------------------------

  acknowledge(event: Held): void {
    this.acks.add(event.part, event.position);
  }

  /** Names an event for errors: topic, partition and position. */
  private where(event: Held): string {
    return `event at ${event.position} of '${this.topicDef.name}' partition ${event.part.partition}`;
  }

  async claim(event: Held): Promise<Held | undefined> {
    const { group, consumer } = this.settings;
    const p = event.part;
    let claimed: RawEntry[];
    try {
      claimed = await this.conn.send<RawEntry[]>(
        ['XCLAIM', p.stream, group, consumer, '0', event.position],
        { key: p.stream },
      );
    } catch (e) {
      throw toHeraldError(e, `retry the ${this.where(event)} (it stays pending)`);
    }
    const first = claimed[0];
    if (!first || !first[1]) return undefined; // acknowledged elsewhere, or trimmed
    return new RedisHeld(event.part, event.position, first[1], event.attempt + 1);
  }

  async deadLetter(event: Held, request: Port.DeadLetterRequest): Promise<Port.DeadLetterOutcome> {
    const stored = deadLetterFields(event.fields, {
      group: this.settings.group,
      reason: request.reason,
      error: request.error,
      attempts: event.attempt,
      position: event.position,
    });
    let pos: string | null;
    try {
      pos = await runScript<string | null>(
        this.conn,
        deadLetterScript,
        [event.part.stream, event.part.dlq],
        [this.settings.group, event.position, ...Object.entries(stored).flat()],
      );
    } catch (e) {
      throw toHeraldError(e, `dead-letter the ${this.where(event)} (it stays pending)`);
    }
    return pos ? { position: pos } : 'not-pending';
  }

  // ---- reclaiming ----------------------------------------------------------

  async touch(events: readonly Held[]): Promise<void> {
    const byPart = new Map<PartitionKeys, string[]>();
    for (const e of events) byPart.set(e.part, [...(byPart.get(e.part) ?? []), e.position]);
    await touch(
      this.conn,
      [...byPart],
      this.settings.group,
      this.settings.consumer,
      Math.floor(this.settings.visibilityMs / 4),
    );
  }

  async claimIdle(room: () => number): Promise<{ events: Held[]; deleted: number }> {
    const events: Held[] = [];
    let deleted = 0;
    for (const p of this.parts) {
      const count = Math.min(this.settings.batchSize, room() - events.length);
      if (count <= 0) break;
      // XAUTOCLAIM examines at most 10 x COUNT pending entries per call: continue where it stopped,
      // or idle entries behind a long list of busy ones would never be reached.
      const claimed = await autoclaim(
        this.conn,
        p,
        this.settings.group,
        this.settings.consumer,
        this.settings.visibilityMs,
        this.reclaimCursors.get(p) ?? '0-0',
        count,
      );
      this.reclaimCursors.set(p, claimed.next);
      deleted += claimed.deleted;
      events.push(...held(p, claimed.live, (id) => claimed.attempts.get(id) ?? 1));
    }
    return { events, deleted };
  }

  /** Removes consumers that are long gone and hold nothing pending. */
  async housekeeping(): Promise<void> {
    const idleLimit = Math.max(2 * this.settings.visibilityMs, 60_000);
    if (Date.now() - this.lastCleanup < idleLimit / 2) return;
    this.lastCleanup = Date.now();
    await removeGoneConsumers(
      this.conn,
      this.parts,
      this.settings.group,
      this.settings.consumer,
      idleLimit,
    );
  }

  // ---- closing -------------------------------------------------------------

  async finish(holdsNothing: boolean): Promise<void> {
    await this.acks.drain();
    // A consumer leaves its group only once it holds nothing pending.
    if (holdsNothing) {
      await removeConsumerIfIdle(
        this.conn,
        this.parts,
        this.settings.group,
        this.settings.consumer,
        0,
        LEAVE_GROUP_DEADLINE_MS,
      ).catch(() => {});
    }
  }
}

/**
 * An entry held by this consumer. It keeps the flat field list Redis returned: the engine decodes
 * from it, and the `fields` record (dead letters, logs) is built only when asked for.
 */
class RedisHeld implements Held {
  private record: Fields | undefined;

  constructor(
    readonly part: PartitionKeys,
    readonly position: string,
    readonly flat: readonly string[],
    readonly attempt: number,
  ) {}

  get fields(): Fields {
    return (this.record ??= pairs(this.flat));
  }
}

/** Entries from a read or a claim as held events; entries deleted from the stream (null fields) are dropped. */
/** The attempt of an event read for the first time (XREADGROUP '>'). */
const firstAttempt = (): number => 1;

function held(
  p: PartitionKeys,
  entries: readonly RawEntry[],
  attemptOf: (id: string) => number,
): Held[] {
  const out: Held[] = [];
  for (const [position, flat] of entries) {
    if (flat) out.push(new RedisHeld(p, position, flat, attemptOf(position)));
  }
  return out;
}
