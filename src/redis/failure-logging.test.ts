/**
 * Retries and dead letters log one structured line each (topic, group, event id,
 * attempt, error) through the backend's logger, on Redis and in memory; a logger of
 * the user's choice (a pino logger at another level, or silentLogger) replaces the default.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { Backend, Subscription } from '../core/contract.ts';
import { silentLogger, type HeraldLogger } from '../core/logger.ts';
import { defineTopic } from '../core/topic.ts';
import { MemoryBackend } from '../memory/backend.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';

interface Line {
  readonly level: 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string | undefined;
}

function capturingLogger(): HeraldLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: Line['level']) =>
    (obj: object, msg?: string): void => {
      lines.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

const MAX_ATTEMPTS = 3;

/** Publishes one event whose handler always fails; waits for its dead letter. */
async function failOnce(backend: Backend, name: string): Promise<string> {
  const topic = defineTopic({ name });
  const subs: Subscription[] = [];
  try {
    const sub = backend.subscribe(
      topic,
      {
        group: 'billing',
        startFrom: 'beginning',
        maxAttempts: MAX_ATTEMPTS,
        backoff: { initialMs: 10, maxMs: 20 },
      },
      () => {
        throw new Error('card declined');
      },
    );
    subs.push(sub);
    await sub.ready;
    const receipt = await backend.publish(topic, { id: `evt-${name}`, data: { n: 1 } });
    await waitFor(async () => (await backend.deadLetters?.list(topic))?.length === 1, {
      timeoutMs: 30_000,
      message: 'the event was not dead-lettered',
    });
    return receipt.position;
  } finally {
    await Promise.all(subs.map((s) => s.close({ deadlineMs: 2000 })));
  }
}

function assertLines(lines: Line[], topic: string): void {
  const relevant = lines.filter((l) => l.obj.topic === topic);
  const retries = relevant.filter((l) => l.level === 'info');
  const deadLetters = relevant.filter((l) => l.level === 'warn');
  assert.equal(retries.length, MAX_ATTEMPTS - 1, 'one info line per retry');
  assert.equal(deadLetters.length, 1, 'one warn line per dead letter');
  assert.equal(relevant.length, MAX_ATTEMPTS, JSON.stringify(relevant));
  for (const [i, line] of [...retries, ...deadLetters].entries()) {
    assert.equal(line.obj.topic, topic);
    assert.equal(line.obj.group, 'billing');
    assert.equal(line.obj.eventId, `evt-${topic}`);
    assert.equal(line.obj.attempt, i + 1);
    assert.match(String(line.obj.error), /card declined/);
    assert.ok(line.msg);
  }
}

const backends: [string, (logger: HeraldLogger) => Promise<Backend>][] = [
  ['memory', (logger) => Promise.resolve(new MemoryBackend({ logger }))],
  [
    'redis',
    (logger) => RedisBackend.connect({ url: testRedisUrl(), prefix: uniquePrefix('log'), logger }),
  ],
];

for (const [kind, make] of backends) {
  void describe(`${kind} backend: failure logging`, () => {
    const open: Backend[] = [];
    after(async () => {
      await Promise.all(open.map((b) => b.close()));
    });

    void test('each retry logs one info line and each dead letter one warn line', async () => {
      const logger = capturingLogger();
      const backend = await make(logger);
      open.push(backend);
      const topic = `logged-${kind}`;
      await failOnce(backend, topic);
      assertLines(logger.lines, topic);
    });

    void test('a user logger at level warn drops the retry lines and keeps the dead letter', async () => {
      const written: string[] = [];
      const logger = pino({ level: 'warn' }, { write: (line: string) => void written.push(line) });
      const backend = await make(logger);
      open.push(backend);
      const topic = `turned-down-${kind}`;
      await failOnce(backend, topic);
      const lines = written
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l.topic === topic);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.equal(lines[0]?.eventId, `evt-${topic}`);
      assert.equal(lines[0]?.attempt, MAX_ATTEMPTS);
    });

    void test('silentLogger replaces the default logger', async () => {
      const backend = await make(silentLogger);
      open.push(backend);
      assert.equal((backend as { logger?: HeraldLogger }).logger, silentLogger);
    });
  });
}
