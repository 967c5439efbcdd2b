/**
 * Ordered subscriptions in memory: the same semantics as on Redis (redis/ordered-transport.ts)
 * for several ordered subscriptions of one group in one process. A coordinator per topic and
 * group plays the part of the ownership keys: it knows the members, the owner and the epoch
 * of every partition. Partitions are assigned as on Redis (core/partition-assignment.ts); an
 * instance hands a partition over once its event in hand finished; the new owner takes the
 * partition's pending events over first, in stream order, then reads new ones. Work under a
 * lost ownership is refused (OwnershipLostError, status 'partition-fenced').
 */
import { randomBytes } from 'node:crypto';
import type { Handler, OwnershipOperation, SubscribeOptions } from '../core/contract.ts';
import { DeliveryEngine, type DeliveryHooks } from '../core/delivery-engine.ts';
import type * as Port from '../core/delivery-port.ts';
import { OwnershipLostError } from '../core/errors.ts';
import type { HeraldLogger } from '../core/logger.ts';
import { assignedPartitions } from '../core/partition-assignment.ts';
import type { Topic } from '../core/topic.ts';
import { moveToDeadLetters } from './dead-letters.ts';
import type { GroupState, PendingEntry } from './group.ts';
import type { PartitionState } from './store.ts';

/** A partition owned by one instance: a new object per ownership (epoch). */
interface OrderedMemoryPart extends Port.PartitionRef {
  readonly state: PartitionState;
  readonly group: GroupState;
  readonly epoch: number;
}

type Held = Port.HeldEvent<OrderedMemoryPart>;

/** Who owns which partition of one group of one topic (what the Redis keys hold). */
class Coordinator {
  readonly members = new Map<string, MemoryOrderedTransport>();
  private readonly owners = new Map<number, { consumer: string; epoch: number }>();
  private readonly epochs = new Map<number, number>();

  acquire(partition: number, consumer: string): number | undefined {
    if (this.owners.has(partition)) return undefined;
    const epoch = (this.epochs.get(partition) ?? 0) + 1;
    this.epochs.set(partition, epoch);
    this.owners.set(partition, { consumer, epoch });
    return epoch;
  }

  owns(partition: number, epoch: number): boolean {
    return this.owners.get(partition)?.epoch === epoch;
  }

  release(partition: number, epoch: number): void {
    if (this.owns(partition, epoch)) this.owners.delete(partition);
    this.rebalance();
  }

  /** Every member aims for its share; called on join, leave and hand-over. */
  rebalance(): void {
    const names = [...this.members.keys()];
    for (const m of this.members.values()) m.reconcile(names);
  }
}

/** Coordinators by the topic's partitions (one store) and group. */
const coordinators = new WeakMap<readonly PartitionState[], Map<string, Coordinator>>();

function coordinatorOf(partitions: readonly PartitionState[], group: string): Coordinator {
  let byGroup = coordinators.get(partitions);
  if (byGroup === undefined) {
    byGroup = new Map();
    coordinators.set(partitions, byGroup);
  }
  let c = byGroup.get(group);
  if (c === undefined) {
    c = new Coordinator();
    byGroup.set(group, c);
  }
  return c;
}

export interface MemoryOrderedDeps {
  readonly partitions: readonly PartitionState[];
  readonly logger: HeraldLogger;
  readonly hooks?: DeliveryHooks;
}

/** An ordered subscription in memory. */
export function subscribeMemoryOrdered<T>(
  deps: MemoryOrderedDeps,
  topic: Topic<T>,
  options: SubscribeOptions<T>,
  handler: Handler<T>,
): DeliveryEngine<T, OrderedMemoryPart> {
  return new DeliveryEngine<T, OrderedMemoryPart>({
    topic,
    options,
    handler,
    defaultConsumer: `memory-${process.pid}-${randomBytes(3).toString('hex')}`,
    transport: (settings) => new MemoryOrderedTransport(deps.partitions, settings),
    hooks: deps.hooks,
    logger: deps.logger,
  });
}

function held(part: OrderedMemoryPart, p: PendingEntry): Held {
  return { part, position: p.entry.position, fields: p.entry.fields, attempt: p.count };
}

interface Owned {
  readonly part: OrderedMemoryPart;
  active: boolean;
  releasing: boolean;
  wake: (() => void) | undefined;
  loop: Promise<void>;
}

class MemoryOrderedTransport implements Port.DeliveryTransport<OrderedMemoryPart> {
  readonly serverName = 'memory';
  private readonly coordinator: Coordinator;
  private readonly owned = new Map<number, Owned>();
  private readonly unlisten: (() => void)[] = [];
  private sink: Port.ReadSink<OrderedMemoryPart> | undefined;
  private stopped = false;
  private stop: (() => void) | undefined;

  constructor(
    private readonly partitions: readonly PartitionState[],
    private readonly settings: Port.TransportSettings,
  ) {
    this.coordinator = coordinatorOf(partitions, settings.group);
  }

  async open(): Promise<void> {
    await Promise.resolve(); // on a later tick, as a networked backend would
    for (const p of this.partitions) {
      p.group(this.settings.group, this.settings.startFrom);
      this.unlisten.push(p.stream.listen(() => this.owned.get(p.partition)?.wake?.()));
    }
  }

  resumeOwn(): Promise<Held[]> {
    return Promise.resolve([]);
  }

  async read(sink: Port.ReadSink<OrderedMemoryPart>): Promise<void> {
    this.sink = sink;
    this.coordinator.members.set(this.settings.consumer, this);
    this.coordinator.rebalance();
    await new Promise<void>((resolve) => (this.stop = resolve));
    await Promise.all([...this.owned.values()].map((o) => o.loop));
  }

  stopReading(): void {
    this.stopped = true;
    for (const stop of this.unlisten.splice(0)) stop();
    for (const o of this.owned.values()) {
      o.active = false;
      o.wake?.();
    }
    this.stop?.();
  }

  /** Aims for this instance's share of the partitions among `members`. */
  reconcile(members: readonly string[]): void {
    const sink = this.sink;
    if (sink === undefined || this.stopped) return;
    const mine = assignedPartitions(members, this.settings.consumer, this.partitions.length);
    for (const o of this.owned.values()) {
      if (!mine.has(o.part.partition) && !o.releasing) void this.handOver(o, sink);
    }
    for (const partition of mine) {
      if (this.owned.has(partition)) continue;
      const epoch = this.coordinator.acquire(partition, this.settings.consumer);
      if (epoch === undefined) continue;
      const state = this.partitions[partition] as PartitionState;
      const part: OrderedMemoryPart = {
        partition,
        state,
        group: state.group(this.settings.group, this.settings.startFrom),
        epoch,
      };
      const o: Owned = {
        part,
        active: true,
        releasing: false,
        wake: undefined,
        loop: Promise.resolve(),
      };
      this.owned.set(partition, o);
      sink.report({ type: 'partition-assigned', partition, epoch });
      o.loop = this.readPartition(o, sink);
    }
  }

  private async handOver(o: Owned, sink: Port.ReadSink<OrderedMemoryPart>): Promise<void> {
    o.releasing = true;
    o.active = false;
    o.wake?.();
    await sink.revoke(o.part);
    await o.loop;
    this.owned.delete(o.part.partition);
    sink.report({ type: 'partition-revoked', partition: o.part.partition, epoch: o.part.epoch });
    this.coordinator.release(o.part.partition, o.part.epoch);
  }

  private async readPartition(o: Owned, sink: Port.ReadSink<OrderedMemoryPart>): Promise<void> {
    const { part } = o;
    const me = this.settings.consumer;
    // The partition's pending events first (whoever held them), in stream order.
    sink.deliver(part.group.claimIdle(me, 0, Number.MAX_SAFE_INTEGER).map((p) => held(part, p)));
    while (o.active && sink.running()) {
      await sink.drained(part);
      if (!o.active || !sink.running()) return;
      const events = part.group.readNew(me, sink.batchSize).map((p) => held(part, p));
      if (events.length > 0) {
        sink.deliver(events);
        continue;
      }
      await new Promise<void>((resolve) => (o.wake = resolve));
      o.wake = undefined;
    }
  }

  /** The error when this ownership was lost (reported, the partition dropped); else undefined. */
  private fence(
    part: OrderedMemoryPart,
    operation: OwnershipOperation,
  ): OwnershipLostError | undefined {
    if (this.coordinator.owns(part.partition, part.epoch)) return undefined;
    const error = new OwnershipLostError(
      `partition ${part.partition}: ownership epoch ${part.epoch} was taken over (${operation} refused)`,
      { partition: part.partition, epoch: part.epoch },
    );
    const o = this.owned.get(part.partition);
    if (o?.part === part) {
      this.owned.delete(part.partition);
      o.active = false;
      o.wake?.();
      void this.sink?.revoke(part);
    }
    this.sink?.report({
      type: 'partition-fenced',
      partition: part.partition,
      epoch: part.epoch,
      rejected: operation,
      error,
    });
    return error;
  }

  acknowledge(event: Held): Promise<void> {
    // Refused (and reported) under a lost ownership: the event goes to the partition's new owner.
    if (this.fence(event.part, 'acknowledge') === undefined) event.part.group.ack(event.position);
    return Promise.resolve();
  }

  claim(event: Held): Promise<Held | undefined> {
    const lost = this.fence(event.part, 'claim');
    if (lost) return Promise.reject(lost);
    const claimed = event.part.group.claim(event.position, this.settings.consumer);
    return Promise.resolve(claimed && held(event.part, claimed));
  }

  deadLetter(event: Held, request: Port.DeadLetterRequest): Promise<Port.DeadLetterOutcome> {
    const lost = this.fence(event.part, 'dead-letter');
    if (lost) return Promise.reject(lost);
    const moved = moveToDeadLetters(event.part.state, event.part.group, {
      group: this.settings.group,
      entry: { position: event.position, fields: event.fields },
      reason: request.reason,
      error: request.error,
      attempts: event.attempt,
    });
    return Promise.resolve(moved ? { position: undefined } : 'not-pending');
  }

  touch(): Promise<void> {
    return Promise.resolve();
  }

  claimIdle(): Promise<{ events: Held[]; deleted: number }> {
    return Promise.resolve({ events: [], deleted: 0 });
  }

  finish(): Promise<void> {
    this.stopped = true;
    this.coordinator.members.delete(this.settings.consumer);
    for (const o of [...this.owned.values()]) {
      this.owned.delete(o.part.partition);
      this.sink?.report({
        type: 'partition-revoked',
        partition: o.part.partition,
        epoch: o.part.epoch,
      });
      this.coordinator.release(o.part.partition, o.part.epoch);
    }
    this.coordinator.rebalance();
    return Promise.resolve();
  }
}
