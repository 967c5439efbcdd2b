/**
 * Publishing into memory: every event of a call is validated and encoded with
 * the same field codec as the Redis backend before any is stored; an event
 * with an id is stored at most once per dedupe window.
 */
import { derivedId, pairs } from '../core/codec.ts';
import type { OutgoingEvent, PublishReceipt } from '../core/event.ts';
import { prepareEvents } from '../core/prepare.ts';
import type { Topic } from '../core/topic.ts';
import type { MemoryStore } from './store.ts';

export class MemoryPublisher {
  constructor(
    private readonly store: MemoryStore,
    private readonly source: string,
  ) {}

  async publishBatch<T>(
    topic: Topic<T>,
    events: readonly OutgoingEvent<T>[],
  ): Promise<PublishReceipt[]> {
    if (events.length === 0) return [];
    const prepared = await prepareEvents(topic, events, this.source);
    const partitions = this.store.partitionsOf(topic);
    return prepared.map((p) => {
      const part = partitions[p.partition];
      if (part === undefined)
        throw new Error(`partition ${p.partition} of '${topic.name}' is missing`);
      const receipt = { topic: topic.name, partition: p.partition };
      if (p.id !== undefined) {
        const previous = part.dedupe.lookup(p.id);
        if (previous !== undefined)
          return { ...receipt, id: p.id, position: previous, duplicate: true };
      }
      const { position } = part.stream.append(pairs(p.fields));
      if (p.id !== undefined) part.dedupe.remember(p.id, position, topic.dedupeWindowMs);
      return {
        ...receipt,
        id: p.id ?? derivedId(topic.name, p.partition, position),
        position,
        duplicate: false,
      };
    });
  }
}
