/**
 * Streams shared with other Redis clients, written and read with the real
 * `redis-cli`: a raw-codec topic reads plain field/value entries and writes
 * entries any client can read; an envelope topic dead-letters entries that are
 * not Herald envelopes (reason 'undecodable') and keeps delivering the rest.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import type { Delivery, Subscription } from '../index.ts';
import { defineTopic } from '../core/topic.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';
import { partitionKeys } from './keys.ts';

const run = promisify(execFile);
const REDIS_CLI = '/usr/bin/redis-cli';

/** Runs redis-cli against `url`; returns its output lines (raw mode, as when piped). */
async function redisCli(url: string, ...args: string[]): Promise<string[]> {
  const { stdout } = await run(REDIS_CLI, ['-u', url, ...args], { timeout: 10_000 });
  return stdout.split('\n').filter((l) => l !== '');
}

void describe('foreign streams through redis-cli', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('foreign');
  let backend: RedisBackend;
  const subs: Subscription[] = [];

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix });
  });

  after(async () => {
    await Promise.all(subs.map((s) => s.close({ deadlineMs: 2000 })));
    await backend.close();
  });

  void test('entries written by redis-cli on a raw topic arrive as plain fields', async () => {
    const streamKey = `${prefix}:book-recommendations`;
    const topic = defineTopic({ name: 'books-in', streamKey, codec: 'raw' });
    const got: Delivery<unknown>[] = [];
    const sub = backend.subscribe(topic, { group: 'readers', startFrom: 'beginning' }, (e) => {
      got.push(e);
    });
    subs.push(sub);
    await sub.ready;

    const [position] = await redisCli(
      url,
      'XADD',
      streamKey,
      '*',
      'user_id',
      'Salvatore',
      'book_ids',
      'ofmiceandmen',
    );
    assert.match(position ?? '', /^\d+-\d+$/, 'redis-cli XADD did not print an entry id');
    await waitFor(() => got.length >= 1, { message: 'the redis-cli entry was not delivered' });
    const [event] = got;
    assert.deepEqual(event?.data, { user_id: 'Salvatore', book_ids: 'ofmiceandmen' });
    assert.equal(event?.delivery.position, position);
    assert.equal(event?.delivery.attempt, 1);
    await waitFor(async () => (await redisCli(url, 'XPENDING', streamKey, 'readers'))[0] === '0', {
      message: 'the redis-cli entry was not acknowledged',
    });
  });

  void test('Herald publishing with the raw codec writes plain fields redis-cli reads', async () => {
    const streamKey = `${prefix}:book-recommendations-out`;
    const topic = defineTopic({ name: 'books-out', streamKey, codec: 'raw' });
    const receipt = await backend.publish(topic, {
      data: { user_id: 'Salvatore', book_ids: 'ofmiceandmen' },
    });
    const lines = await redisCli(url, 'XRANGE', streamKey, '-', '+');
    assert.deepEqual(lines, [receipt.position, 'user_id', 'Salvatore', 'book_ids', 'ofmiceandmen']);
  });

  void test('both envelope layouts, from Herald and from redis-cli, are read by one group; a bad compact one is dead-lettered', async () => {
    const compact = defineTopic({ name: 'layouts' });
    const fields = defineTopic({ name: 'layouts', envelopeLayout: 'fields' });
    const stream = partitionKeys(prefix, compact, 0).stream;
    const got: { type: string; source: string; n: unknown; subject: string | undefined }[] = [];
    const sub = backend.subscribe(compact, { group: 'both', startFrom: 'beginning' }, (e) => {
      got.push({ type: e.type, source: e.source, n: e.data, subject: e.subject });
    });
    subs.push(sub);
    await sub.ready;

    const first = await backend.publish(compact, { data: 1 });
    await backend.publish(fields, { data: 2, subject: 's2' });
    // What Herald stored, as any client reads it: one field for the usual event.
    assert.deepEqual(await redisCli(url, 'XRANGE', stream, first.position, first.position), [
      first.position,
      'ce',
      '["layouts","herald",1]',
    ]);
    // A foreign producer writing either layout by hand.
    await redisCli(url, 'XADD', stream, '*', 'ce', '["cli.type","cli",3]', 'subject', 's3');
    await redisCli(
      url,
      'XADD',
      stream,
      '*',
      'specversion',
      '1.0',
      'type',
      't4',
      'source',
      'cli',
      'data',
      '4',
    );
    const [bad] = await redisCli(url, 'XADD', stream, '*', 'ce', '{"type":"x","data":5}');
    await backend.publish(compact, { data: 6, type: 't6' });

    await waitFor(() => got.length >= 5, { message: 'not every envelope was delivered' });
    assert.deepEqual(got, [
      { type: 'layouts', source: 'herald', n: 1, subject: undefined },
      { type: 'layouts', source: 'herald', n: 2, subject: 's2' },
      { type: 'cli.type', source: 'cli', n: 3, subject: 's3' },
      { type: 't4', source: 'cli', n: 4, subject: undefined },
      { type: 't6', source: 'herald', n: 6, subject: undefined },
    ]);
    await waitFor(async () => (await backend.deadLetters.list(compact)).length >= 1, {
      message: 'the malformed compact entry was not dead-lettered',
    });
    const [letter] = await backend.deadLetters.list(compact);
    assert.equal(letter?.originalPosition, bad);
    assert.equal(letter?.reason, 'undecodable');
    assert.match(letter?.error ?? '', /'ce' must be a JSON array \[type, source, data\]/);
  });

  void test('entries that are not valid envelopes are dead-lettered as undecodable; later events flow', async () => {
    const topic = defineTopic({ name: 'orders', schema: z.object({ n: z.number() }) });
    const stream = partitionKeys(prefix, topic, 0).stream;
    const handled: number[] = [];
    const deadLettered: string[] = [];
    const sub = backend.subscribe(topic, { group: 'billing', startFrom: 'beginning' }, (e) => {
      handled.push(e.data.n);
    });
    subs.push(sub);
    void (async () => {
      for await (const s of sub.status())
        if (s.type === 'dead-lettered') deadLettered.push(s.reason);
    })();
    await sub.ready;

    await backend.publish(topic, { data: { n: 1 } });
    // No envelope at all: arbitrary fields.
    const [noEnvelope] = await redisCli(
      url,
      'XADD',
      stream,
      '*',
      'user_id',
      'Salvatore',
      'book_ids',
      'ofmiceandmen',
    );
    // An envelope whose data is not JSON.
    const [notJson] = await redisCli(
      url,
      'XADD',
      stream,
      '*',
      'specversion',
      '1.0',
      'type',
      'orders',
      'data',
      '{n:',
    );
    // Valid JSON that the topic's schema rejects.
    const [badSchema] = await redisCli(
      url,
      'XADD',
      stream,
      '*',
      'specversion',
      '1.0',
      'type',
      'orders',
      'data',
      '{"n":"two"}',
    );
    await backend.publish(topic, { data: { n: 2 } });
    await backend.publish(topic, { data: { n: 3 } });

    await waitFor(() => handled.length >= 3, {
      message: 'valid events after the bad ones were not delivered',
    });
    assert.deepEqual(handled, [1, 2, 3]);

    await waitFor(async () => (await backend.deadLetters.list(topic)).length >= 3, {
      message: 'the bad entries were not dead-lettered',
    });
    const letters = await backend.deadLetters.list(topic);
    assert.equal(letters.length, 3);
    const byPosition = new Map(letters.map((d) => [d.originalPosition, d]));
    for (const [position, problem] of [
      [noEnvelope, /no Herald envelope: missing specversion, type, data/],
      [notJson, /data is not valid JSON/],
      [badSchema, /is invalid: n: /],
    ] as const) {
      const d = byPosition.get(position ?? '');
      assert.ok(d, `entry ${position} was not dead-lettered`);
      assert.equal(d.reason, 'undecodable');
      assert.equal(d.group, 'billing');
      assert.match(d.error, problem);
    }
    assert.deepEqual(byPosition.get(noEnvelope ?? '')?.fields, {
      user_id: 'Salvatore',
      book_ids: 'ofmiceandmen',
    });
    await waitFor(() => deadLettered.length >= 3, { message: "no 'dead-lettered' status" });
    assert.ok(
      deadLettered.every((r) => r.startsWith('undecodable')),
      deadLettered.join(' | '),
    );
    assert.deepEqual(
      await redisCli(url, 'XPENDING', stream, 'billing'),
      ['0'],
      'entries left pending',
    );
  });
});
