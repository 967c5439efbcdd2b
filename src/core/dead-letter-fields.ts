/**
 * How a dead letter is stored, for every backend: the event's own fields plus
 * `herald-dlq-*` fields naming the group, reason, error, attempts, original
 * position and time. Foreign readers (redis-cli XRANGE on a dead-letter stream) see the same.
 */
import { EnvelopeField, type Fields } from './codec.ts';
import type { DeadLetter, DeadLetterFilter } from './contract.ts';

export const DLQ_FIELD_PREFIX = 'herald-dlq-';
export const DLQ = {
  group: 'herald-dlq-group',
  reason: 'herald-dlq-reason',
  error: 'herald-dlq-error',
  attempts: 'herald-dlq-attempts',
  position: 'herald-dlq-position',
  time: 'herald-dlq-time',
} as const;

export interface DeadLetterInfo {
  readonly group: string;
  readonly reason: DeadLetter['reason'];
  readonly error: string;
  readonly attempts: number;
  /** The event's position in its partition. */
  readonly position: string;
}

/** The fields of a dead letter: the event's fields, then the dead-letter fields. */
export function deadLetterFields(fields: Fields, info: DeadLetterInfo): Fields {
  return {
    ...fields,
    [DLQ.group]: info.group,
    [DLQ.reason]: info.reason,
    [DLQ.error]: info.error.slice(0, 4000),
    [DLQ.attempts]: String(info.attempts),
    [DLQ.position]: info.position,
    [DLQ.time]: new Date().toISOString(),
  };
}

/** Reads a stored dead letter back. */
export function toDeadLetter(
  topic: string,
  partition: number,
  position: string,
  fields: Fields,
): DeadLetter {
  const original: Fields = {};
  for (const [k, v] of Object.entries(fields)) if (!k.startsWith(DLQ_FIELD_PREFIX)) original[k] = v;
  return {
    position,
    topic,
    partition,
    group: fields[DLQ.group] ?? '',
    originalPosition: fields[DLQ.position] ?? '',
    eventId: fields[EnvelopeField.id],
    reason: fields[DLQ.reason] === 'undecodable' ? 'undecodable' : 'handler-failed',
    error: fields[DLQ.error] ?? '',
    attempts: Number(fields[DLQ.attempts] ?? 0),
    deadLetteredAt: fields[DLQ.time] ?? '',
    fields: original,
  };
}

export function matchesDeadLetter(d: DeadLetter, filter: DeadLetterFilter | undefined): boolean {
  return (
    (filter?.group === undefined || d.group === filter.group) &&
    (filter?.reason === undefined || d.reason === filter.reason)
  );
}
