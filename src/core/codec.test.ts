import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeEnvelope,
  decodeEnvelopeFlat,
  encodeEnvelope,
  encodeRaw,
  fieldOf,
  pairs,
  positionTime,
} from './codec.ts';
import { DecodeError } from './errors.ts';
import { defineTopic } from './topic.ts';
import { backoffDelay, resolveBackoff } from './backoff.ts';
import { partitionFor } from './partition.ts';

const topic = defineTopic({ name: 'orders' });
const ctx = { topic: 'orders', partition: 0, position: '1700000000000-3' };

test('envelope round trip keeps every attribute; derived id and time come from the position', () => {
  const fields = pairs(
    encodeEnvelope(
      topic,
      { data: { a: 1 }, type: 't', headers: { h: 'v' }, key: 'k', subject: 's', traceparent: 'tp' },
      { source: 'svc' },
    ),
  );
  const e = decodeEnvelope(fields, ctx);
  assert.deepEqual(e.data, { a: 1 });
  assert.equal(e.type, 't');
  assert.equal(e.source, 'svc');
  assert.equal(e.key, 'k');
  assert.equal(e.subject, 's');
  assert.equal(e.traceparent, 'tp');
  assert.deepEqual(e.headers, { h: 'v' });
  assert.equal(e.id, 'orders:0:1700000000000-3');
  assert.equal(e.time, '2023-11-14T22:13:20.000Z');
  assert.equal(e.datacontenttype, 'application/json');
  assert.equal(fields.id, undefined, 'a derived id is not stored');
});

test('explicit id and time are stored and win', () => {
  const e = decodeEnvelope(
    pairs(
      encodeEnvelope(topic, { data: 1, id: 'x', time: '2020-01-01T00:00:00Z' }, { source: 's' }),
    ),
    ctx,
  );
  assert.equal(e.id, 'x');
  assert.equal(e.time, '2020-01-01T00:00:00Z');
});

test('entries without an envelope or with bad JSON are DecodeErrors naming the problem', () => {
  assert.throws(
    () => decodeEnvelope({ foo: 'bar' }, ctx),
    (e) => e instanceof DecodeError && /missing specversion, type, data/.test(e.message),
  );
  assert.throws(
    () => decodeEnvelope({ specversion: '1.0', type: 't', data: '{nope' }, ctx),
    /not valid JSON/,
  );
  assert.throws(
    () => decodeEnvelope({ specversion: '2.0', type: 't', data: '1' }, ctx),
    /specversion/,
  );
});

test('decoding from the flat field list equals decoding its record, entry after entry', () => {
  const full = encodeEnvelope(
    topic,
    { data: { a: 1 }, type: 't', headers: { h: 'v' }, key: 'k', subject: 's', traceparent: 'tp' },
    { source: 'svc' },
    { id: 'e-1', time: '2026-01-01T00:00:00.000Z' },
  );
  const plain = encodeEnvelope(topic, { data: [1, 2] }, { source: 'svc' });
  // A foreign field and a repeated one (the last wins, as in the record).
  const odd = [...plain, 'other', 'x', 'type', 'second'];
  // The scratch record of one entry must not leak into the next.
  for (const flat of [full, plain, odd, full, plain]) {
    assert.deepEqual(decodeEnvelopeFlat(flat, ctx), decodeEnvelope(pairs(flat), ctx));
  }
  assert.equal(fieldOf(odd, 'type'), 'second');
  assert.equal(fieldOf(odd, 'herald-replay-for'), undefined);
  assert.throws(
    () => decodeEnvelopeFlat(['data', '{}'], ctx),
    (e: unknown) => e instanceof DecodeError && /missing specversion, type/.test(e.message),
  );
});

test('raw codec needs flat string fields', () => {
  assert.deepEqual(encodeRaw({ a: 'x', b: 'y' }), ['a', 'x', 'b', 'y']);
  assert.throws(() => encodeRaw({ a: 1 }), DecodeError);
  assert.throws(() => encodeRaw('x'), DecodeError);
  assert.equal(positionTime('0-1'), '1970-01-01T00:00:00.000Z');
});

test('backoff grows exponentially with jitter and is capped', () => {
  const b = resolveBackoff({ initialMs: 100, maxMs: 1000, factor: 2 });
  assert.equal(
    backoffDelay(b, 1, () => 0),
    50,
  );
  assert.equal(
    backoffDelay(b, 1, () => 1),
    100,
  );
  assert.equal(
    backoffDelay(b, 3, () => 1),
    400,
  );
  assert.equal(
    backoffDelay(b, 10, () => 1),
    1000,
  );
});

test('partition choice is stable per key and spreads keys', () => {
  assert.equal(partitionFor(8, 'user-1', undefined), partitionFor(8, 'user-1', 'other'));
  const used = new Set(Array.from({ length: 200 }, (_, i) => partitionFor(8, `k${i}`, undefined)));
  assert.equal(used.size, 8);
  assert.equal(partitionFor(1, 'x', undefined), 0);
});

test('defineTopic rejects options that cannot work', () => {
  assert.throws(() => defineTopic({ name: 'a b' }), /invalid/);
  assert.throws(() => defineTopic({ name: 'a', partitions: 0 }), /partitions/);
  assert.throws(() => defineTopic({ name: 'a', partitions: 2, streamKey: 'k' }), /1 partition/);
});
