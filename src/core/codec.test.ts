import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compactAttributes,
  decodeEnvelope,
  decodeEnvelopeFlat,
  encodeEnvelope,
  encodeRaw,
  fieldOf,
  inspectData,
  pairs,
  positionTime,
  storedDataText,
} from './codec.ts';
import { DecodeError } from './errors.ts';
import { defineTopic } from './topic.ts';
import { backoffDelay, resolveBackoff } from './backoff.ts';
import { partitionFor } from './partition.ts';

const topic = defineTopic({ name: 'orders' });
const fieldsTopic = defineTopic({ name: 'orders', envelopeLayout: 'fields' });
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
  const plainFields = encodeEnvelope(fieldsTopic, { data: [1, 2] }, { source: 'svc' });
  // A foreign field and a repeated one (the last wins, as in the record).
  const odd = [...plainFields, 'other', 'x', 'type', 'second'];
  // The scratch record of one entry must not leak into the next.
  for (const flat of [full, plain, odd, full, plainFields, plain]) {
    assert.deepEqual(decodeEnvelopeFlat(flat, ctx), decodeEnvelope(pairs(flat), ctx));
  }
  assert.equal(fieldOf(odd, 'type'), 'second');
  assert.equal(fieldOf(odd, 'herald-replay-for'), undefined);
  assert.throws(
    () => decodeEnvelopeFlat(['data', '{}'], ctx),
    (e: unknown) => e instanceof DecodeError && /missing specversion, type/.test(e.message),
  );
});

test('the compact layout is the default: the usual event is one field, [type, source, data]', () => {
  assert.equal(topic.envelopeLayout, 'compact');
  assert.deepEqual(encodeEnvelope(topic, { data: { a: 1 } }, { source: 'svc' }), [
    'ce',
    '["orders","svc",{"a":1}]',
  ]);
  assert.deepEqual(encodeEnvelope(topic, { data: undefined, type: 't' }, { source: 'svc' }), [
    'ce',
    '["t","svc",null]',
  ]);
  // Optional attributes keep their own fields, in both layouts.
  assert.deepEqual(
    encodeEnvelope(topic, { data: 1, key: 'k', subject: 's' }, { source: 'svc' }, { id: 'e-1' }),
    ['ce', '["orders","svc",1]', 'id', 'e-1', 'subject', 's', 'partitionkey', 'k'],
  );
});

test("the 'fields' layout writes Herald 0.1's fields", () => {
  assert.deepEqual(encodeEnvelope(fieldsTopic, { data: { a: 1 } }, { source: 'svc' }), [
    'specversion',
    '1.0',
    'type',
    'orders',
    'source',
    'svc',
    'data',
    '{"a":1}',
  ]);
});

test('both layouts decode to the same event, whichever layout the reading topic writes', () => {
  const event = {
    data: { a: [1, 'two', null], b: { c: true } },
    type: 't',
    headers: { h: 'v' },
    key: 'k',
    subject: 's',
    traceparent: 'tp',
  };
  const explicit = { id: 'e-1', time: '2026-01-01T00:00:00.000Z' };
  for (const extra of [{}, explicit]) {
    const compact = encodeEnvelope(topic, event, { source: 'svc' }, extra);
    const fields = encodeEnvelope(fieldsTopic, event, { source: 'svc' }, extra);
    const fromCompact = decodeEnvelopeFlat(compact, ctx);
    assert.deepEqual(fromCompact, decodeEnvelopeFlat(fields, ctx));
    assert.deepEqual(fromCompact, decodeEnvelope(pairs(compact), ctx));
    assert.equal(fromCompact.type, 't');
    assert.equal(fromCompact.source, 'svc');
    assert.deepEqual(fromCompact.data, event.data);
  }
});

test('a malformed compact envelope is a DecodeError saying what is wrong', () => {
  const bad: [string[], RegExp][] = [
    [['ce', '{nope'], /'ce' is not valid JSON/],
    [['ce', '{"type":"t"}'], /must be a JSON array \[type, source, data\]/],
    [['ce', '["t","s"]'], /must be a JSON array/],
    [['ce', '["t","s",1,2]'], /must be a JSON array/],
    [['ce', '["","s",1]'], /non-empty strings/],
    [['ce', '["t",7,1]'], /non-empty strings/],
    [['ce', '["t","s",1]', 'data', '1'], /mixes the two envelope layouts/],
    [['ce', '["t","s",1]', 'specversion', '1.0'], /mixes the two envelope layouts/],
  ];
  for (const [flat, message] of bad) {
    assert.throws(
      () => decodeEnvelopeFlat(flat, ctx),
      (e: unknown) => e instanceof DecodeError && message.test(e.message),
      flat.join(' '),
    );
    assert.throws(() => decodeEnvelope(pairs(flat), ctx), DecodeError);
  }
});

test('a compact envelope after one with the same type and source decodes as a whole parse would', () => {
  // The reader parses only the data of an entry that repeats the last type and source read:
  // each case follows a good entry with that pair, and must decode (or fail) as on its own.
  const good = ['ce', '["t","s",{"n":0}]'];
  const cases: [string, unknown][] = [
    ['["t","s",{"a":"]"}]', { a: ']' }],
    ['["t","s", 5 ]', 5],
    ['["t","s",null]', null],
    ['["t","s",[1,["t","s",2]]]', [1, ['t', 's', 2]]],
  ];
  for (const [text, data] of cases) {
    decodeEnvelopeFlat(good, ctx);
    const e = decodeEnvelopeFlat(['ce', text], ctx);
    assert.deepEqual([e.type, e.source, e.data], ['t', 's', data], text);
  }
  const bad = ['["t","s",1,2]', '["t","s",]', '["t","s",1]]', '["t","s",{"a":1}'];
  for (const text of bad) {
    decodeEnvelopeFlat(good, ctx);
    assert.throws(() => decodeEnvelopeFlat(['ce', text], ctx), DecodeError, text);
  }
  // Another pair, then the first again: each entry gets its own type and source.
  const other = decodeEnvelopeFlat(['ce', '["u","s2",1]'], ctx);
  assert.deepEqual([other.type, other.source, other.data], ['u', 's2', 1]);
  const again = decodeEnvelopeFlat(['ce', '["t","s",2]'], ctx);
  assert.deepEqual([again.type, again.source, again.data], ['t', 's', 2]);
  // A pair written with other escapes than JSON.stringify's is read whole, to the same values.
  decodeEnvelopeFlat(good, ctx);
  const escaped = decodeEnvelopeFlat(['ce', '["\\u0074","s",3]'], ctx);
  assert.deepEqual([escaped.type, escaped.source, escaped.data], ['t', 's', 3]);
});

test('inspection reads the payload and attributes of either layout', () => {
  const compact = pairs(encodeEnvelope(topic, { data: { a: 1 } }, { source: 'svc' }));
  const fields = pairs(encodeEnvelope(fieldsTopic, { data: { a: 1 } }, { source: 'svc' }));
  assert.deepEqual(inspectData(compact), { a: 1 });
  assert.deepEqual(inspectData(fields), { a: 1 });
  assert.equal(inspectData({ data: '{nope' }), '{nope');
  assert.equal(inspectData({ ce: '[1]' }), '[1]');
  assert.equal(inspectData({ other: 'x' }), undefined);
  assert.equal(storedDataText(compact), '["orders","svc",{"a":1}]');
  assert.equal(storedDataText(fields), '{"a":1}');
  assert.deepEqual(compactAttributes(compact), { type: 'orders', source: 'svc' });
  assert.deepEqual(compactAttributes(fields), fields);
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
  assert.throws(
    () => defineTopic({ name: 'a', envelopeLayout: 'json' as 'compact' }),
    /envelopeLayout must be 'compact' or 'fields'/,
  );
});
