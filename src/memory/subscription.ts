/**
 * The in-memory transport of a consumer-group subscription (the delivery engine in
 * core/delivery-engine.ts decides everything else). It keeps the Redis backend's
 * bookkeeping (group.ts): reading gives entries to this consumer, claims count
 * deliveries, acknowledgements remove entries from the pending list.
 */
import { randomBytes } from 'node:crypto';
import type { Handler, SubscribeOptions } from '../core/contract.ts';
import { DeliveryEngine, type DeliveryHooks } from '../core/delivery-engine.ts';
import type * as Port from '../core/delivery-port.ts';
import type { HeraldLogger } from '../core/logger.ts';
import type { Topic } from '../core/topic.ts';
import { moveToDeadLetters } from './dead-letters.ts';
import type { GroupState, PendingEntry } from './group.ts';
import type { PartitionState } from './store.ts';

/** A partition and this subscription's group on it. */
interface MemoryPart {
  readonly partition: number;
  readonly state: PartitionState;
  readonly group: GroupState;
}

type Held = Port.HeldEvent<MemoryPart>;

export interface MemorySubscribeDeps {
  readonly partitions: readonly PartitionState[];
  readonly logger: HeraldLogger;
  readonly hooks?: DeliveryHooks;
}

/** A consumer-group subscription in memory: the delivery engine with the memory transport. */
export function subscribeMemory<T>(
  deps: MemorySubscribeDeps,
  topic: Topic<T>,
  options: SubscribeOptions<T>,
  handler: Handler<T>,
): DeliveryEngine<T, MemoryPart> {
  return new DeliveryEngine<T, MemoryPart>({
    topic,
    options,
    handler,
    defaultConsumer: `memory-${process.pid}-${randomBytes(3).toString('hex')}`,
    transport: (settings) => new MemoryTransport(deps.partitions, settings),
    hooks: deps.hooks,
    logger: deps.logger,
  });
}

function held(part: MemoryPart, p: PendingEntry): Held {
  return { part, position: p.entry.position, fields: p.entry.fields, attempt: p.count };
}

class MemoryTransport implements Port.DeliveryTransport<MemoryPart> {
  readonly serverName = 'memory';
  private parts: MemoryPart[] = [];
  private readonly unlisten: (() => void)[] = [];
  /** Set by every append; the reader sleeps only when nothing was appended since it last looked. */
  private appended = false;
  private wakeReader: (() => void) | undefined;

  constructor(
    private readonly partitions: readonly PartitionState[],
    private readonly settings: Port.TransportSettings,
  ) {}

  async open(): Promise<void> {
    // Open on a later tick, as a networked backend would: `status()` called right after subscribe sees 'ready'.
    await Promise.resolve();
    this.parts = this.partitions.map((state) => ({
      partition: state.partition,
      state,
      group: state.group(this.settings.group, this.settings.startFrom),
    }));
    for (const p of this.partitions) {
      this.unlisten.push(
        p.stream.listen(() => {
          this.appended = true;
          this.wakeReader?.();
        }),
      );
    }
  }

  resumeOwn(): Promise<Held[]> {
    const out: Held[] = [];
    for (const part of this.parts) {
      for (const p of part.group.heldBy(this.settings.consumer)) {
        const claimed = part.group.claim(p.entry.position, this.settings.consumer);
        if (claimed) out.push(held(part, claimed));
      }
    }
    return Promise.resolve(out);
  }

  async read(sink: Port.ReadSink<MemoryPart>): Promise<void> {
    while (sink.running()) {
      await sink.room();
      if (!sink.running()) return;
      this.appended = false;
      let got = 0;
      for (const part of this.parts) {
        const room = sink.batchSize - got;
        if (room <= 0) break;
        const events = part.group.readNew(this.settings.consumer, room).map((p) => held(part, p));
        got += events.length;
        sink.deliver(events);
      }
      if (got === 0 && !this.appended && sink.running()) {
        await new Promise<void>((resolve) => (this.wakeReader = resolve));
        this.wakeReader = undefined;
      }
    }
  }

  stopReading(): void {
    for (const stop of this.unlisten.splice(0)) stop();
    this.wakeReader?.();
  }

  acknowledge(event: Held): void {
    event.part.group.ack(event.position);
  }

  claim(event: Held): Promise<Held | undefined> {
    const claimed = event.part.group.claim(event.position, this.settings.consumer);
    return Promise.resolve(claimed && held(event.part, claimed));
  }

  deadLetter(event: Held, request: Port.DeadLetterRequest): Promise<Port.DeadLetterOutcome> {
    const moved = moveToDeadLetters(event.part.state, event.part.group, {
      group: this.settings.group,
      entry: { position: event.position, fields: event.fields },
      reason: request.reason,
      error: request.error,
      attempts: event.attempt,
    });
    return Promise.resolve(moved ? { position: undefined } : 'not-pending');
  }

  touch(events: readonly Held[]): Promise<void> {
    for (const e of events) e.part.group.touch(e.position, this.settings.consumer);
    return Promise.resolve();
  }

  claimIdle(room: () => number): Promise<{ events: Held[]; deleted: number }> {
    const events: Held[] = [];
    for (const part of this.parts) {
      const count = room() - events.length;
      if (count <= 0) break;
      for (const p of part.group.claimIdle(
        this.settings.consumer,
        this.settings.visibilityMs,
        count,
      )) {
        events.push(held(part, p));
      }
    }
    // Entries are never removed from a memory stream, so none can vanish while pending.
    return Promise.resolve({ events, deleted: 0 });
  }

  finish(): Promise<void> {
    return Promise.resolve();
  }
}
