import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { ConfigError, DurabilityError } from './core/errors.ts';
import { defineTopic } from './core/topic.ts';
import { connectHerald } from './herald.ts';
import { RedisBackend } from './redis/backend.ts';
import { partitionKeys } from './redis/keys.ts';
import { testRedisUrl, uniquePrefix } from './test-support/redis.ts';

const replicated = defineTopic({
  name: 'ledger',
  durability: { mode: 'replicated', replicas: 1, timeoutMs: 100 },
});

function capturingLogger(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino(sink), lines };
}

void test('a bare backend refuses a replicated publish it cannot honour, and writes nothing', async () => {
  const prefix = uniquePrefix('bare');
  const backend = await RedisBackend.connect({ url: testRedisUrl(), prefix });
  try {
    await assert.rejects(backend.publish(replicated, { data: { n: 1 } }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /replicated durability.*connectHerald/);
      return true;
    });
    const len = await backend.conn.send<number>([
      'XLEN',
      partitionKeys(prefix, replicated, 0).stream,
    ]);
    assert.equal(len, 0);
  } finally {
    await backend.close();
  }
});

void test('connectHerald: capacity guard warns at start-up, replication is waited for, metrics recorded', async () => {
  const { logger, lines } = capturingLogger();
  const registry = new Registry();
  const prefix = uniquePrefix('herald');
  const herald = await connectHerald({
    url: testRedisUrl(),
    prefix,
    capacity: { logger },
    metrics: { registry },
  });
  try {
    // The suite's Redis has no maxmemory: the guard says so at start-up.
    assert.ok(
      lines.some((l) => l.includes('maxmemory')),
      `no start-up warning about maxmemory in: ${lines.join('')}`,
    );
    // No replica: WAIT times out and the outcome is reported as unknown, not as success.
    await assert.rejects(herald.publish(replicated, { data: { n: 1 } }), DurabilityError);
    const plain = defineTopic({ name: 'plain' });
    await herald.publish(plain, { data: { ok: true } });
    const text = await registry.metrics();
    assert.match(text, /herald_events_published_total\{topic="plain"\} 1/);
  } finally {
    await herald.close();
  }
});
