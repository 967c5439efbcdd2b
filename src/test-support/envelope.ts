import { EnvelopeField, pairs, type Fields } from '../core/codec.ts';

/**
 * A stored entry's fields with a compact envelope's `ce` expanded into `type`, `source` and
 * `data` (as JSON text), the names of the `fields` layout: tests read either layout alike.
 */
export function storedEnvelope(flat: readonly string[]): Fields {
  const fields = pairs(flat);
  const compact = fields[EnvelopeField.compact];
  if (compact === undefined) return fields;
  const [type, source, data] = JSON.parse(compact) as [string, string, unknown];
  delete fields[EnvelopeField.compact];
  return { ...fields, type, source, data: JSON.stringify(data) };
}
