/**
 * `herald publish` from stdin, interrupted and rerun: a malformed line mid-stream, then Redis
 * running out of memory mid-stream (a private redis-server with a small maxmemory), then
 * reruns. The report names exactly the lines stored, and in the end every line is stored once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { storedEnvelope } from '../test-support/envelope.ts';
import { defineTopic } from '../core/topic.ts';
import { startRedisServer, type RedisServerHandle } from '../embedded/redis-server.ts';
import { RedisBackend } from '../redis/backend.ts';
import { allPartitionKeys } from '../redis/keys.ts';
import { uniquePrefix } from '../test-support/redis.ts';
import { lineId, lineRanges } from './commands/publish-stdin.ts';
import { parseJsonLines, runHerald } from './testing.ts';

const LINES = 400;
const MALFORMED_LINE = 150;
/** Each line carries about 1 KiB, so a few hundred KiB of headroom runs out mid-stream. */
const PAD = 'x'.repeat(1000);
/** Memory Redis may use beyond what it uses when the second run starts. */
const HEADROOM_BYTES = 120 * 1024;

interface LineRecord {
  readonly line: number;
  readonly status: 'stored' | 'invalid' | 'not-stored' | 'unknown' | 'stopped';
  readonly duplicate?: boolean;
  readonly resumeFromLine?: number;
}

function input(malformed: boolean): string {
  const lines: string[] = [];
  for (let n = 1; n <= LINES; n++) {
    lines.push(
      malformed && n === MALFORMED_LINE ? '{"n": 150, oops' : JSON.stringify({ n, pad: PAD }),
    );
  }
  return `${lines.join('\n')}\n`;
}

void describe('herald publish from stdin: exactly which lines were stored, and reruns without duplicates', () => {
  let server: RedisServerHandle;
  let backend: RedisBackend;
  const prefix = uniquePrefix('cli-stdin');
  const topic = defineTopic({ name: 'lines' });
  let g: string[];

  /** The `n` of every stored event, in stream order. */
  async function storedNumbers(): Promise<number[]> {
    const out: number[] = [];
    for (const p of allPartitionKeys(prefix, topic)) {
      const rows = await backend.conn.send<[string, string[]][]>(['XRANGE', p.stream, '-', '+']);
      for (const [, flat] of rows)
        out.push((JSON.parse(storedEnvelope(flat).data ?? '') as { n: number }).n);
    }
    return out;
  }

  before(async () => {
    server = await startRedisServer({ appendonly: false });
    g = ['--url', server.url, '--prefix', prefix];
    backend = await RedisBackend.connect({ url: server.url, prefix });
  });

  after(async () => {
    await backend?.close();
    await server?.stop();
  });

  void test('helpers: line ids are stable and distinct; line ranges read well', () => {
    assert.equal(lineId('stdin', 3, '{"a":1}'), lineId('stdin', 3, '{"a":1}'));
    assert.notEqual(lineId('stdin', 3, '{"a":1}'), lineId('stdin', 4, '{"a":1}'));
    assert.notEqual(lineId('stdin', 3, '{"a":1}'), lineId('other.ndjson', 3, '{"a":1}'));
    assert.equal(lineRanges([7, 1, 2, 3, 5, 8]), '1-3, 5, 7-8');
  });

  void test(
    'a malformed line, then out of memory, then reruns: every line stored exactly once',
    { timeout: 180_000 },
    async () => {
      // Run 1: stops at the malformed line; the lines before it are stored, and the report says so.
      const first = await runHerald(['publish', 'lines', ...g, '--create'], { input: input(true) });
      assert.equal(first.code, 1, first.stderr);
      assert.match(first.stdout, new RegExp(`^stored lines 1-${MALFORMED_LINE - 1} in 'lines'`));
      assert.match(
        first.stdout,
        new RegExp(`line ${MALFORMED_LINE}: not stored, invalid: the line is not valid JSON`),
      );
      assert.match(first.stderr, new RegExp(`resume with --from-line ${MALFORMED_LINE}\\n$`));
      assert.deepEqual(
        await storedNumbers(),
        Array.from({ length: MALFORMED_LINE - 1 }, (_, i) => i + 1),
      );

      // Run 2: the line is fixed; Redis runs out of memory part way through.
      const info = await backend.conn.send<string>(['INFO', 'memory']);
      const used = Number(/used_memory:(\d+)/.exec(info)?.[1]);
      await backend.conn.send(['CONFIG', 'SET', 'maxmemory', String(used + HEADROOM_BYTES)]);
      const second = await runHerald(
        ['publish', 'lines', ...g, '--from-line', String(MALFORMED_LINE), '--json'],
        { input: input(false) },
      );
      await backend.conn.send(['CONFIG', 'SET', 'maxmemory', '0']);
      assert.equal(second.code, 1, second.stderr);
      assert.match(second.stderr, /out of memory/);
      const records = parseJsonLines<LineRecord>(second);
      const stop = records.find((r) => r.status === 'stopped');
      assert.ok(
        stop?.resumeFromLine,
        `a stopped record names the line to resume from: ${second.stdout.slice(-400)}`,
      );
      const resumeAt = stop.resumeFromLine;
      assert.ok(
        resumeAt > MALFORMED_LINE && resumeAt <= LINES,
        `stopped mid-stream, at line ${resumeAt}`,
      );
      assert.match(second.stderr, new RegExp(`resume with --from-line ${resumeAt}\\n$`));
      // The report is exact: the lines it calls stored are the lines in the stream, no more, no less.
      const reportedStored = records.filter((r) => r.status === 'stored').map((r) => r.line);
      const inStream = (await storedNumbers()).filter((n) => n >= MALFORMED_LINE);
      assert.deepEqual(
        [...reportedStored].sort((a, b) => a - b),
        inStream,
      );
      assert.ok(
        records.some((r) => r.status === 'not-stored' && r.line === resumeAt),
        'the line to resume from is reported as not stored',
      );

      // Run 3: resume where the report said.
      const third = await runHerald(['publish', 'lines', ...g, '--from-line', String(resumeAt)], {
        input: input(false),
      });
      assert.equal(third.code, 0, third.stderr);

      // Run 4: the whole input once more: every line is recognised, nothing is written twice.
      const fourth = await runHerald(['publish', 'lines', ...g], { input: input(false) });
      assert.equal(fourth.code, 0, fourth.stderr);
      assert.equal(
        fourth.stdout,
        `published ${LINES} event(s) to 'lines' (${LINES} duplicate(s) not written again)\n`,
      );

      const numbers = await storedNumbers();
      assert.equal(numbers.length, LINES, 'no line stored twice');
      assert.deepEqual(
        [...numbers].sort((a, b) => a - b),
        Array.from({ length: LINES }, (_, i) => i + 1),
      );
    },
  );

  void test('--skip-invalid reports each invalid line by number and stores the others', async () => {
    const skip = defineTopic({ name: 'skipping' });
    const text = ['{"n":1}', 'nope', '{"n":3}', '', '{"n":5', '{"n":6}'].join('\n');
    const r = await runHerald(['publish', skip.name, ...g, '--create', '--skip-invalid'], {
      input: text,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^stored lines 1, 3, 6 in 'skipping': 3 event\(s\)\n/);
    assert.match(r.stdout, /\nline 2: not stored, invalid: /);
    assert.match(r.stdout, /\nline 5: not stored, invalid: /);
    assert.equal(r.stderr, 'herald: line(s) 2, 5 not stored (see the report above)\n');
  });
});
