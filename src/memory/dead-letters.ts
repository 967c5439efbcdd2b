/**
 * Dead letters in memory, stored like the Redis backend stores them: the
 * event's fields plus `herald-dlq-*` fields, per partition; replay puts a dead
 * letter back on its partition marked for its group only (`EnvelopeField.replayFor`).
 */
import { derivedId, EnvelopeField, type Fields } from '../core/codec.ts';
import type { DeadLetter, DeadLetterFilter, DeadLetters } from '../core/contract.ts';
import {
  deadLetterFields,
  DLQ_FIELD_PREFIX,
  matchesDeadLetter,
  toDeadLetter,
} from '../core/dead-letter-fields.ts';
import type { Topic } from '../core/topic.ts';
import type { StoredEntry } from './entry-log.ts';
import type { GroupState } from './group.ts';
import type { MemoryStore, PartitionState } from './store.ts';

export interface DeadLetterRequest {
  readonly group: string;
  readonly entry: StoredEntry;
  readonly reason: DeadLetter['reason'];
  readonly error: string;
  readonly attempts: number;
}

/**
 * Acknowledges the entry for its group and stores it as a dead letter, in one
 * step. Returns false (and stores nothing) when the entry was no longer pending.
 */
export function moveToDeadLetters(
  partition: PartitionState,
  group: GroupState,
  req: DeadLetterRequest,
): boolean {
  if (!group.ack(req.entry.position)) return false;
  partition.deadLetters.append(
    deadLetterFields(req.entry.fields, { ...req, position: req.entry.position }),
  );
  return true;
}

export class MemoryDeadLetters implements DeadLetters {
  constructor(private readonly store: MemoryStore) {}

  list<T>(topic: Topic<T>, filter?: DeadLetterFilter): Promise<DeadLetter[]> {
    const out: DeadLetter[] = [];
    const limit = filter?.limit ?? Infinity;
    for (const p of this.store.partitionsOf(topic)) {
      for (const stored of p.deadLetters.all()) {
        if (out.length >= limit) return Promise.resolve(out);
        const d = toDeadLetter(topic.name, p.partition, stored.position, stored.fields);
        if (matchesDeadLetter(d, filter)) out.push(d);
      }
    }
    return Promise.resolve(out);
  }

  async replay<T>(
    topic: Topic<T>,
    filter?: DeadLetterFilter & { readonly onProgress?: (done: number, total: number) => void },
  ): Promise<number> {
    const targets = await this.list(topic, filter);
    const partitions = this.store.partitionsOf(topic);
    let done = 0;
    for (const d of targets) {
      const p = partitions[d.partition];
      const stored = p?.deadLetters.get(d.position);
      if (p === undefined || stored === undefined) continue;
      const fields: Fields = {};
      for (const [k, v] of Object.entries(stored.fields)) {
        if (!k.startsWith(DLQ_FIELD_PREFIX) && k !== EnvelopeField.replayFor) fields[k] = v;
      }
      // Without an id the event's id came from its old position: keep it, so handlers see the same event.
      if (fields[EnvelopeField.id] === undefined && topic.codec !== 'raw') {
        fields[EnvelopeField.id] = derivedId(topic.name, d.partition, d.originalPosition);
      }
      if (d.group !== '') fields[EnvelopeField.replayFor] = d.group;
      p.deadLetters.delete(d.position);
      p.stream.append(fields);
      done++;
      filter?.onProgress?.(done, targets.length);
    }
    return done;
  }

  async purge<T>(topic: Topic<T>, filter?: DeadLetterFilter): Promise<number> {
    const targets = await this.list(topic, filter);
    const partitions = this.store.partitionsOf(topic);
    let removed = 0;
    for (const d of targets) if (partitions[d.partition]?.deadLetters.delete(d.position)) removed++;
    return removed;
  }
}
