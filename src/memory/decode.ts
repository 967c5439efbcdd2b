import { decodeEnvelope, decodeRaw, EnvelopeField, type DecodeContext } from '../core/codec.ts';
import type { Delivery, DeliveryInfo, HeraldEvent } from '../core/event.ts';
import { validate } from '../core/schema.ts';
import type { Topic } from '../core/topic.ts';
import type { StoredEntry } from './entry-log.ts';

/**
 * Turns a stored entry into what a handler receives, validating the data
 * against the topic's schema. Throws DecodeError or ValidationError for an
 * entry that cannot be handled (it is dead-lettered as 'undecodable').
 */
export async function toDelivery<T>(
  topic: Topic<T>,
  entry: StoredEntry,
  info: DeliveryInfo,
): Promise<Delivery<T>> {
  const ctx: DecodeContext = {
    topic: topic.name,
    partition: info.partition,
    position: entry.position,
  };
  let event: HeraldEvent;
  if (topic.codec === 'raw') {
    const fields = { ...entry.fields };
    delete fields[EnvelopeField.replayFor];
    event = decodeRaw(fields, ctx, topic);
  } else {
    event = decodeEnvelope(entry.fields, ctx);
  }
  if (topic.schema) {
    const data = await validate(topic.schema, event.data, `data of entry ${entry.position}`);
    event = { ...event, data };
  }
  return { ...(event as HeraldEvent<T>), delivery: info };
}
