/**
 * Turning what a producer hands to `publish` into stream-entry fields: shape
 * checks, schema validation and encoding, for every event of a call before any
 * is written. Shared by every backend, so they refuse the same input the same way.
 */
import { encodeEnvelope, encodeRaw } from './codec.ts';
import { ValidationError } from './errors.ts';
import type { OutgoingEvent } from './event.ts';
import { partitionFor } from './partition.ts';
import { validate } from './schema.ts';
import type { Topic } from './topic.ts';

export interface PreparedEvent {
  readonly partition: number;
  /** The producer's id, when it gave one (the event is then deduplicated). */
  readonly id: string | undefined;
  /** Flat field/value list, ready for XADD. */
  readonly fields: string[];
}

async function prepareOne<T>(
  topic: Topic<T>,
  event: OutgoingEvent<T>,
  source: string,
  where: string,
): Promise<PreparedEvent> {
  if (event === null || typeof event !== 'object') {
    throw new ValidationError(`${where} must be an object with data`);
  }
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
  let fields: string[];
  if (topic.codec === 'raw') {
    try {
      fields = encodeRaw(data);
    } catch (e) {
      const message = (e as Error).message;
      throw new ValidationError(`${where}: ${message}`, [{ message, path: ['data'] }]);
    }
  } else {
    if (data === undefined) {
      throw new ValidationError(`${where} has no data`, [{ message: 'required', path: ['data'] }]);
    }
    fields = encodeEnvelope(topic, { ...event, data: data as T }, { source });
  }
  return { partition: partitionFor(topic.partitions, event.key, event.id), id: event.id, fields };
}

/** Prepares every event, or throws a ValidationError naming the first bad one; nothing is written either way. */
export async function prepareEvents<T>(
  topic: Topic<T>,
  events: readonly OutgoingEvent<T>[],
  source: string,
): Promise<PreparedEvent[]> {
  const out: PreparedEvent[] = [];
  for (let i = 0; i < events.length; i++) {
    const where =
      events.length > 1
        ? `event #${i} for topic '${topic.name}'`
        : `event for topic '${topic.name}'`;
    out.push(await prepareOne(topic, events[i] as OutgoingEvent<T>, source, where));
  }
  return out;
}
