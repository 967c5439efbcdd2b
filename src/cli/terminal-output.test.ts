/**
 * What events carry cannot drive the terminal of the person reading `tail`, `groups` or
 * `dlq`: control characters in types, keys, headers, payloads, group and consumer names are
 * printed escaped; payloads nested too deeply to re-encode, or very large, do not crash them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix } from '../test-support/redis.ts';
import { deadLetterAll, parseJson, parseJsonLines, runHerald } from './testing.ts';

/** OSC title change, clear screen, blink, a C1 CSI, a right-to-left override, a bell. */
const HOSTILE = '\u001b]0;owned\u0007\u001b[2J\u001b[5m\u009b31m\u202e\u0007';
/** Deeper than JSON.stringify can re-encode on a default stack. */
const DEPTH = 50_000;
const LARGE_CHARS = 2 * 1024 * 1024;

function terminalControls(text: string): string[] {
  return [...text]
    .filter((c) => {
      const code = c.charCodeAt(0);
      return (
        (code < 0x20 && c !== '\n') ||
        (code >= 0x7f && code <= 0x9f) ||
        (code >= 0x202a && code <= 0x202e) ||
        (code >= 0x2066 && code <= 0x2069)
      );
    })
    .map((c) => `U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function assertInert(text: string, what: string): void {
  assert.deepEqual(terminalControls(text), [], `${what} printed terminal control characters`);
}

void describe('human output escapes what events carry; big and deep payloads do not crash', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('cli-escape');
  const topic = defineTopic({ name: 'hostile' });
  const stream = partitionKeys(prefix, topic, 0).stream;
  let backend: RedisBackend;
  const g = ['--url', url, '--prefix', prefix];
  const EVENTS = 3;

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix });
    await backend.publish(topic, {
      type: `order.${HOSTILE}created`,
      key: `k${HOSTILE}`,
      headers: { note: HOSTILE },
      data: { note: `payload ${HOSTILE}` },
    });
    // Written the way another client could: too deep to re-encode, and far larger than a line.
    const deep = `${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`;
    const envelope = ['specversion', '1.0', 'type', 'deep', 'source', 'other-client'];
    await backend.conn.send(['XADD', stream, '*', ...envelope, 'data', deep]);
    const large = JSON.stringify({ blob: 'y'.repeat(LARGE_CHARS) });
    await backend.conn.send([
      'XADD',
      stream,
      '*',
      ...envelope.slice(0, 2),
      'type',
      'large',
      'data',
      large,
    ]);
    // A group and a consumer with hostile names, as any Redis client could create them.
    await backend.conn.send(['XGROUP', 'CREATE', stream, `grp${HOSTILE}`, '0']);
    await backend.conn.send([
      'XREADGROUP',
      'GROUP',
      `grp${HOSTILE}`,
      `con${HOSTILE}`,
      'COUNT',
      '1',
      'STREAMS',
      stream,
      '>',
    ]);
    await deadLetterAll(backend, topic, 'billing', () => true, EVENTS);
  });

  after(async () => {
    await backend.close();
  });

  void test('tail: types, keys and payloads are printed escaped; deep and large payloads print', async () => {
    const r = await runHerald([
      'tail',
      'hostile',
      ...g,
      '--from',
      'beginning',
      '--count',
      String(EVENTS),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assertInert(r.stdout, 'tail');
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, EVENTS);
    assert.match(
      lines[0] ?? '',
      /order\.\\u001b\]0;owned\\u0007\\u001b\[2J.*created {2}key=k\\u001b/,
    );
    assert.match(lines[1] ?? '', /deep {2}\[\[\[\[/);
    assert.match(
      lines[2] ?? '',
      /large {2}\{"blob":"yyyy.*… \(\d+ more characters; --json prints all\)$/,
    );
    assert.ok(
      (lines[2] ?? '').length < 10_000,
      'a large payload is cut on a line meant for people',
    );
  });

  void test('tail --json: every event parses, the deep one as stored text, and nothing drives the terminal', async () => {
    const r = await runHerald([
      'tail',
      'hostile',
      ...g,
      '--from',
      'beginning',
      '--count',
      String(EVENTS),
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assertInert(r.stdout, 'tail --json');
    const events = parseJsonLines<{ type: string; data?: unknown; rawData?: string }>(r);
    assert.equal(events[0]?.type, `order.${HOSTILE}created`, 'the JSON carries the exact value');
    assert.equal(events[1]?.rawData?.length, DEPTH * 2);
    assert.equal((events[2]?.data as { blob: string }).blob.length, LARGE_CHARS);
  });

  void test('groups: group and consumer names are printed escaped', async () => {
    const r = await runHerald(['groups', 'hostile', ...g]);
    assert.equal(r.code, 0, r.stderr);
    assertInert(r.stdout, 'groups');
    assert.match(r.stdout, /grp\\u001b\]0;owned\\u0007/);
    assert.match(r.stdout, /con\\u001b\]0;owned\\u0007/);
  });

  void test('dlq list and show: escaped, and the deep and large dead letters show', async () => {
    const list = await runHerald(['dlq', 'list', 'hostile', ...g]);
    assert.equal(list.code, 0, list.stderr);
    assertInert(list.stdout, 'dlq list');
    const letters = parseJson<{ position: string }[]>(
      await runHerald(['dlq', 'list', 'hostile', ...g, '--json']),
    );
    assert.equal(letters.length, EVENTS);
    for (const d of letters) {
      const show = await runHerald(['dlq', 'show', 'hostile', d.position, ...g]);
      assert.equal(show.code, 0, show.stderr);
      assertInert(show.stdout, `dlq show ${d.position}`);
      const json = await runHerald(['dlq', 'show', 'hostile', d.position, ...g, '--json']);
      assert.equal(json.code, 0, json.stderr);
      assertInert(json.stdout, `dlq show --json ${d.position}`);
    }
  });
});
