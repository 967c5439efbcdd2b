import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { CapacityError } from '../core/errors.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import {
  startRedisServer,
  uniquePrefix,
  waitFor,
  type RedisServerHandle,
} from '../test-support/redis.ts';
import { capacityVerdict, checkMemoryPolicy, enableCapacityGuard } from './capacity.ts';
import { parseInfo } from './inspect.ts';
import { trimTopic } from './retention.ts';

const PAYLOAD = 'x'.repeat(2000);

void describe('checkMemoryPolicy', () => {
  void test('passes with a maxmemory and noeviction', () => {
    assert.deepEqual(
      checkMemoryPolicy(
        '# Memory\r\nused_memory:100\r\nmaxmemory:1000\r\nmaxmemory_policy:noeviction\r\n',
      ),
      {
        ok: true,
        problems: [],
      },
    );
  });

  void test('fails without maxmemory, and with a policy that evicts keys, with the fix', () => {
    const r = checkMemoryPolicy({
      used_memory: '100',
      maxmemory: '0',
      maxmemory_policy: 'allkeys-lru',
    });
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.problems.map((p) => p.code),
      ['no-maxmemory', 'evicting-policy'],
    );
    assert.match(r.problems[1]?.fix ?? '', /CONFIG SET maxmemory-policy noeviction/);
    const v = checkMemoryPolicy({ maxmemory: '10', maxmemory_policy: 'volatile-ttl' });
    assert.deepEqual(
      v.problems.map((p) => p.code),
      ['evicting-policy'],
    );
  });

  void test('capacityVerdict refuses from the threshold, never without a limit', () => {
    assert.equal(capacityVerdict({ used_memory: '89', maxmemory: '100' }, 0.9).ok, true);
    assert.equal(capacityVerdict({ used_memory: '90', maxmemory: '100' }, 0.9).ok, false);
    assert.equal(capacityVerdict({ used_memory: '900', maxmemory: '0' }, 0.9).ok, true);
  });
});

void describe('capacity guard against a redis-server with maxmemory 20mb, noeviction', () => {
  let server: RedisServerHandle;
  let backend: RedisBackend;

  before(async () => {
    server = await startRedisServer({
      maxmemory: '20mb',
      maxmemoryPolicy: 'noeviction',
      appendonly: false,
    });
    backend = await RedisBackend.connect({ url: server.url, prefix: uniquePrefix('capacity') });
  });
  after(async () => {
    await backend.close();
    await server.stop();
  });

  const memory = async () => parseInfo(String(await backend.conn.send(['INFO', 'memory'])));

  /** Publishes one event per call, 200 at a time, until `enough` says so; counts outcomes. */
  async function fill(topic: Topic<unknown>, enough: (errors: unknown[]) => boolean) {
    let stored = 0;
    const errors: unknown[] = [];
    for (let round = 0; round < 1000 && !enough(errors); round++) {
      const settled = await Promise.allSettled(
        Array.from({ length: 200 }, () => backend.publish(topic, { data: { p: PAYLOAD } })),
      );
      for (const s of settled) {
        if (s.status === 'fulfilled') stored++;
        else errors.push(s.reason);
      }
    }
    return { stored, errors };
  }

  void test('warns at start about a missing maxmemory or an evicting policy', async () => {
    const lines: { msg: string; problem: string }[] = [];
    const logger = pino(
      {},
      { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string; problem: string }) },
    );
    await backend.conn.send(['CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru']);
    await backend.conn.send(['CONFIG', 'SET', 'maxmemory', '0']);
    try {
      const guard = await enableCapacityGuard(backend, { logger });
      guard.stop();
    } finally {
      await backend.conn.send(['CONFIG', 'SET', 'maxmemory-policy', 'noeviction']);
      await backend.conn.send(['CONFIG', 'SET', 'maxmemory', '20mb']);
    }
    assert.deepEqual(
      lines.map((l) => l.problem),
      ['no-maxmemory', 'evicting-policy'],
    );
    assert.match(lines[1]?.msg ?? '', /allkeys-lru/);
  });

  void test("without the guard, Redis's own OOM reply is a CapacityError; consumers still drain and trim", async () => {
    const topic = defineTopic({ name: 'oom' });
    const stream = partitionKeys(backend.prefix, topic, 0).stream;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let handled = 0;
    const sub = backend.subscribe(topic, { group: 'g', startFrom: 'beginning' }, async () => {
      await gate;
      handled++;
    });
    try {
      await sub.ready;
      const { stored, errors } = await fill(topic, (e) => e.length > 0);
      assert.ok(errors.length > 0, 'Redis never refused');
      for (const e of errors) {
        assert.ok(e instanceof CapacityError, `not a CapacityError: ${String(e)}`);
        assert.match(e.message, /out of memory/);
        assert.match(String((e.cause as Error).message), /^OOM/);
      }
      assert.equal(await backend.conn.send(['XLEN', stream]), stored);
      // Redis is past maxmemory now, refusing writes that add memory…
      const m = await memory();
      assert.ok(Number(m.used_memory) > Number(m.maxmemory), 'Redis is not past maxmemory');
      // …yet the consumer reads and acknowledges everything, and retention trims it.
      release();
      await waitFor(() => handled === stored, {
        timeoutMs: 30_000,
        message: `handled ${handled} of ${stored}`,
      });
      await waitFor(
        async () => Number((await backend.conn.send<[number]>(['XPENDING', stream, 'g']))[0]) === 0,
      );
      const [trim] = await trimTopic(backend.conn, backend.prefix, topic, {
        maxLen: 0,
        approximate: false,
      });
      assert.equal(trim?.trimmed, stored);
      await backend.publish(topic, { data: { p: 'room again' } });
    } finally {
      release();
      await sub.close();
      await backend.conn.send(['DEL', stream]); // frees the memory for the next test
    }
  });

  void test('refuses before the limit, loses nothing, lets consumers drain, and recovers', async () => {
    const topic = defineTopic({ name: 'orders' });
    const stream = partitionKeys(backend.prefix, topic, 0).stream;
    // The consumer group exists before memory fills up (creating one is a write Redis refuses when full).
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let handled = 0;
    const sub = backend.subscribe(topic, { group: 'billing', startFrom: 'beginning' }, async () => {
      await gate;
      handled++;
    });
    await sub.ready;
    const guard = await enableCapacityGuard(backend, { threshold: 0.9, sampleMs: 20 });
    try {
      const t0 = performance.now();
      const { stored, errors } = await fill(topic, (e) =>
        e.some((x) => x instanceof CapacityError && x.threshold === 0.9),
      );
      const fillMs = performance.now() - t0;
      const refusal = errors.find(
        (x) => x instanceof CapacityError && x.threshold === 0.9,
      ) as CapacityError;
      assert.ok(refusal, 'the guard never refused');
      for (const e of errors)
        assert.ok(e instanceof CapacityError, `not a CapacityError: ${String(e)}`);
      assert.ok((refusal.usedBytes ?? 0) >= 0.9 * (refusal.limitBytes ?? 0));
      assert.equal(refusal.limitBytes, 20 * 1024 * 1024);
      assert.match(
        refusal.message,
        /refused: Redis memory is at \d+\.\d% of maxmemory \(\d+\.\d MB of 20\.0 MB; Herald refuses from 90\.0%\)/,
      );
      // Nothing already stored was lost.
      assert.equal(await backend.conn.send(['XLEN', stream]), stored);
      const full = await memory();
      console.log(
        `capacity: stored ${stored} events of 2 KB in ${fillMs.toFixed(0)} ms; first guard refusal at ` +
          `${(((refusal.usedBytes ?? 0) / (refusal.limitBytes ?? 1)) * 100).toFixed(1)}% of maxmemory; ` +
          `${errors.length} refusals (${errors.length - errors.filter((x) => (x as CapacityError).threshold === 0.9).length} by Redis OOM); used_memory ${full.used_memory}`,
      );
      assert.equal(guard.verdict().ok, false);

      // Consumers drain while publishing is refused: read, handle, acknowledge.
      release();
      await waitFor(() => handled === stored, {
        timeoutMs: 30_000,
        message: `handled ${handled} of ${stored}`,
      });
      await waitFor(async () => {
        const [pending] = await backend.conn.send<[number]>(['XPENDING', stream, 'billing']);
        return Number(pending) === 0;
      });
      // Retention removes what every group acknowledged, which frees the memory.
      const [trim] = await trimTopic(backend.conn, backend.prefix, topic, {
        maxLen: 0,
        approximate: false,
      });
      assert.equal(trim?.trimmed, stored);
      const freed = await waitFor(() => (guard.verdict().ok ? guard.verdict() : undefined), {
        message: 'the guard did not see the memory freed',
      });
      assert.ok((freed?.ratio ?? 1) < 0.9);
      // Publishing works again.
      const receipt = await backend.publish(topic, { data: { p: 'after' } });
      assert.equal(receipt.topic, 'orders');
    } finally {
      release();
      guard.stop();
      await sub.close();
    }
  });
});
