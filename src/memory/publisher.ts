/**
 * Publishing into memory: every event of a call is validated and encoded with
 * the same field codec as the Redis backend before any is stored; an event
 * with an id is stored at most once per dedupe window.
 */
import { derivedId, encodeEnvelope, encodeRaw, pairs, type Fields } from '../core/codec.ts';
import { ValidationError } from '../core/errors.ts';
import type { OutgoingEvent, PublishReceipt } from '../core/event.ts';
import { partitionFor } from '../core/partition.ts';
import { validate } from '../core/schema.ts';
import type { Topic } from '../core/topic.ts';
import type { MemoryStore } from './store.ts';

interface Prepared {
  readonly partition: number;
  readonly id: string | undefined;
  readonly fields: Fields;
}

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
    const prepared: Prepared[] = [];
    for (let i = 0; i < events.length; i++) {
      const where =
        events.length > 1
          ? `event #${i} for topic '${topic.name}'`
          : `event for topic '${topic.name}'`;
      prepared.push(await this.prepare(topic, events[i] as OutgoingEvent<T>, where));
    }
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
      const { position } = part.stream.append(p.fields);
      if (p.id !== undefined) part.dedupe.remember(p.id, position, topic.dedupeWindowMs);
      return {
        ...receipt,
        id: p.id ?? derivedId(topic.name, p.partition, position),
        position,
        duplicate: false,
      };
    });
  }

  private async prepare<T>(
    topic: Topic<T>,
    event: OutgoingEvent<T>,
    where: string,
  ): Promise<Prepared> {
    if (event === null || typeof event !== 'object')
      throw new ValidationError(`${where} must be an object with data`);
    if (event.id !== undefined && (typeof event.id !== 'string' || event.id === '')) {
      throw new ValidationError(`${where}: id must be a non-empty string`, [
        { message: 'must be a non-empty string', path: ['id'] },
      ]);
    }
    let data: unknown = event.data;
    if (topic.schema) {
      try {
        data = await validate(topic.schema, event.data, `data of ${where}`);
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        throw new ValidationError(
          e.message,
          e.issues.map((issue) => ({ ...issue, path: ['data', ...issue.path] })),
        );
      }
    }
    let flat: string[];
    if (topic.codec === 'raw') {
      try {
        flat = encodeRaw(data);
      } catch (e) {
        const message = (e as Error).message;
        throw new ValidationError(`${where}: ${message}`, [{ message, path: ['data'] }]);
      }
    } else {
      if (data === undefined)
        throw new ValidationError(`${where} has no data`, [
          { message: 'required', path: ['data'] },
        ]);
      flat = encodeEnvelope(topic, { ...event, data: data as T }, { source: this.source });
    }
    return {
      partition: partitionFor(topic.partitions, event.key, event.id),
      id: event.id,
      fields: pairs(flat),
    };
  }
}
