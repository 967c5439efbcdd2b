/**
 * A consumer process killed with SIGKILL in the middle of a batch: the events it
 * had read but not acknowledged are reclaimed by the survivors of its group
 * after the visibility timeout. Nothing acknowledged by a publish is lost.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Subscription, SubscriptionStatus } from '../core/contract.ts';
import { defineTopic } from '../core/topic.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { RedisBackend } from './backend.ts';
import { partitionKeys } from './keys.ts';
import { DeliveryCount, describeReport } from './fixtures/count.ts';

const fixture = fileURLToPath(new URL('./fixtures/consumer.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Starts the fixture consumer and resolves once it prints `ready`. */
async function startChild(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
  try {
    await waitFor(
      () => {
        if (child.exitCode !== null)
          throw new Error(`consumer exited with ${child.exitCode}: ${err}`);
        return out.includes('ready');
      },
      { timeoutMs: 30_000, message: 'the child consumer did not become ready' },
    );
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return child;
}

void describe('a consumer killed with SIGKILL mid-batch', () => {
  const url = testRedisUrl();
  const prefix = uniquePrefix('fault-kill');
  const topic = defineTopic({ name: 'killed' });
  const group = 'workers';
  const handledKey = `${prefix}:handled`;
  const stream = partitionKeys(prefix, topic, 0).stream;
  let backend: RedisBackend;
  let child: ChildProcess | undefined;
  const survivors: Subscription[] = [];

  before(async () => {
    backend = await RedisBackend.connect({ url, prefix });
  });

  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(survivors.map((s) => s.close({ deadlineMs: 2000 })));
    await backend.close();
  });

  void test('survivors reclaim its pending events: lost = 0', async () => {
    const count = new DeliveryCount();
    const total = 1000;
    const ids = Array.from({ length: total }, (_, i) => `evt-${i}`);
    for (let i = 0; i < total; i += 250) {
      const receipts = await backend.publishBatch(
        topic,
        ids.slice(i, i + 250).map((id) => ({ id, data: { id } })),
      );
      for (const r of receipts) count.acknowledged(r.id);
    }

    const killed = 'doomed-consumer';
    child = await startChild([
      url,
      prefix,
      topic.name,
      group,
      killed,
      handledKey,
      '--delay-ms',
      '5',
    ]);
    // Kill once it has handled some events but not all: its read-ahead is still pending.
    await waitFor(async () => Number(await backend.conn.send(['SCARD', handledKey])) >= 100, {
      timeoutMs: 30_000,
      message: 'child handled nothing',
    });
    child.kill('SIGKILL');
    await once(child, 'exit');
    const handledByChild = Number(await backend.conn.send(['SCARD', handledKey]));
    const pendingAtKill = await backend.conn.send<unknown[]>([
      'XPENDING',
      stream,
      group,
      '-',
      '+',
      '1000',
      killed,
    ]);
    assert.ok(
      handledByChild < total,
      `the child handled everything (${handledByChild}) before it was killed`,
    );
    assert.ok(
      pendingAtKill.length > 0,
      'the killed consumer held no pending events: the test proves nothing',
    );

    const statuses: SubscriptionStatus[] = [];
    for (let i = 0; i < 2; i++) {
      const sub = backend.subscribe(
        topic,
        {
          group,
          consumer: `survivor-${i}`,
          batchSize: 50,
          concurrency: 10,
          visibilityTimeoutMs: 500,
        },
        async (event) => {
          const replies = await backend.conn.pipeline([
            ['SADD', handledKey, event.id],
            ['HINCRBY', `${handledKey}:count`, event.id, '1'],
          ]);
          const failed = replies.find((r) => r instanceof Error);
          if (failed) throw failed;
        },
      );
      survivors.push(sub);
      void (async () => {
        for await (const s of sub.status()) statuses.push(s);
      })();
      await sub.ready;
    }

    await waitFor(async () => Number(await backend.conn.send(['SCARD', handledKey])) >= total, {
      timeoutMs: 30_000,
      message: 'not every event was handled',
    });
    await waitFor(
      async () =>
        (await backend.conn.send<unknown[]>(['XPENDING', stream, group, '-', '+', '10'])).length ===
        0,
      { timeoutMs: 15_000, message: 'events still pending in the group' },
    );

    const counts = await backend.conn.send<Record<string, string> | string[]>([
      'HGETALL',
      `${handledKey}:count`,
    ]);
    const entries = Array.isArray(counts)
      ? Array.from(
          { length: counts.length / 2 },
          (_, i) => [counts[2 * i], counts[2 * i + 1]] as const,
        )
      : Object.entries(counts);
    for (const [id, n] of entries) count.delivered(String(id), Number(n));
    const report = count.report();
    console.log(
      describeReport('SIGKILL mid-batch', report) +
        ` (child handled ${handledByChild}, held ${pendingAtKill.length} pending when killed)`,
    );
    assert.equal(report.lost.length, 0, `lost events: ${report.lost.slice(0, 10).join(', ')}`);
    assert.equal(
      report.unexpected.length,
      0,
      `unexpected events: ${report.unexpected.slice(0, 10).join(', ')}`,
    );

    const stillHeld = await backend.conn.send<unknown[]>([
      'XPENDING',
      stream,
      group,
      '-',
      '+',
      '1000',
      killed,
    ]);
    assert.equal(stillHeld.length, 0, 'the killed consumer still holds pending events');
    const reclaimed = statuses
      .filter((s) => s.type === 'reclaimed')
      .reduce((n, s) => n + (s.type === 'reclaimed' ? s.count : 0), 0);
    assert.ok(reclaimed > 0, "no survivor reported a 'reclaimed' status");
    assert.ok(
      reclaimed >= pendingAtKill.length,
      `reclaimed ${reclaimed} of ${pendingAtKill.length} pending`,
    );
  });

  void test("a dead consumer's events are reclaimed while the survivors are kept busy", async () => {
    const busyTopic = defineTopic({ name: 'busy' });
    const busyStream = partitionKeys(prefix, busyTopic, 0).stream;
    const count = new DeliveryCount();
    // A consumer that read 5 events and died without a trace: only its pending entries remain.
    await backend.conn.send(['XGROUP', 'CREATE', busyStream, 'busy', '$', 'MKSTREAM']);
    for (const r of await backend.publishBatch(
      busyTopic,
      Array.from({ length: 5 }, (_, i) => ({ id: `orphan-${i}`, data: {} })),
    )) {
      count.acknowledged(r.id);
    }
    await backend.conn.send([
      'XREADGROUP',
      'GROUP',
      'busy',
      'dead',
      'COUNT',
      '5',
      'STREAMS',
      busyStream,
      '>',
    ]);

    const statuses: SubscriptionStatus[] = [];
    const sub = backend.subscribe(
      busyTopic,
      {
        group: 'busy',
        consumer: 'survivor',
        batchSize: 10,
        concurrency: 2,
        visibilityTimeoutMs: 500,
      },
      async (event) => {
        count.delivered(event.id);
        await new Promise((resolve) => setTimeout(resolve, 5));
      },
    );
    survivors.push(sub);
    void (async () => {
      for await (const s of sub.status()) statuses.push(s);
    })();
    await sub.ready;

    // Keep the survivor saturated: it always has more than a batch outstanding.
    let n = 0;
    const orphansHandled = (): boolean =>
      !count.report().lost.some((id) => id.startsWith('orphan-'));
    const deadline = Date.now() + 10_000;
    while (!orphansHandled() && Date.now() < deadline) {
      const receipts = await backend.publishBatch(
        busyTopic,
        Array.from({ length: 20 }, () => ({ id: `load-${n++}`, data: {} })),
      );
      for (const r of receipts) count.acknowledged(r.id);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    const report = count.report();
    const orphansLost = report.lost.filter((id) => id.startsWith('orphan-'));
    console.log(
      `busy survivor: ${orphansLost.length} of 5 orphaned events still unhandled after ${n} events of load`,
    );
    assert.deepEqual(
      orphansLost,
      [],
      "the busy survivor never reclaimed the dead consumer's events",
    );
    assert.ok(statuses.some((s) => s.type === 'reclaimed'));
  });

  void test("a dead consumer's events behind a long list of others' pending events are reclaimed", async () => {
    const deepTopic = defineTopic({ name: 'deep' });
    const deepStream = partitionKeys(prefix, deepTopic, 0).stream;
    const count = new DeliveryCount();
    await backend.conn.send(['XGROUP', 'CREATE', deepStream, 'deep', '$', 'MKSTREAM']);
    // 1,000 events held by a live, slow consumer (kept fresh below), then 5 held by a dead one.
    // XAUTOCLAIM looks at no more than 10 x COUNT pending entries per call: from '0-0'
    // every time, it would never get past the live consumer's entries.
    await backend.publishBatch(
      deepTopic,
      Array.from({ length: 1000 }, (_, i) => ({ id: `held-${i}`, data: {} })),
    );
    const held = await backend.conn.send<Record<string, [string, string[]][]> | null>([
      'XREADGROUP',
      'GROUP',
      'deep',
      'slow',
      'COUNT',
      '1000',
      'STREAMS',
      deepStream,
      '>',
    ]);
    const heldIds = Object.values(held ?? {})
      .flat()
      .map(([position]) => position);
    assert.equal(heldIds.length, 1000);
    for (const r of await backend.publishBatch(
      deepTopic,
      Array.from({ length: 5 }, (_, i) => ({ id: `orphan-${i}`, data: {} })),
    )) {
      count.acknowledged(r.id);
    }
    await backend.conn.send([
      'XREADGROUP',
      'GROUP',
      'deep',
      'dead',
      'COUNT',
      '5',
      'STREAMS',
      deepStream,
      '>',
    ]);
    const keepFresh = setInterval(() => {
      void backend.conn
        .send(['XCLAIM', deepStream, 'deep', 'slow', '0', ...heldIds, 'JUSTID'])
        .catch(() => {});
    }, 100);
    try {
      const statuses: SubscriptionStatus[] = [];
      const sub = backend.subscribe(
        deepTopic,
        { group: 'deep', consumer: 'reclaimer', batchSize: 50, visibilityTimeoutMs: 1000 },
        (event) => count.delivered(event.id),
      );
      survivors.push(sub);
      void (async () => {
        for await (const s of sub.status()) statuses.push(s);
      })();
      await sub.ready;
      await waitFor(() => count.report().lost.length === 0, {
        timeoutMs: 15_000,
        message: "the dead consumer's events behind the long pending list were never reclaimed",
      });
    } finally {
      clearInterval(keepFresh);
    }
  });
});
