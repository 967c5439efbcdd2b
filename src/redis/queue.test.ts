import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Job } from '../core/queue.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { connect, type RedisConnection } from './connection.ts';
import { queueKeys } from './queue-items.ts';
import { RedisQueueFactory } from './queue.ts';

const fixture = fileURLToPath(new URL('./queue-worker-fixture.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A promise and its resolver, to hold handlers until the test lets them go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

void describe('RedisQueueFactory (at-least-once work queues)', () => {
  let conn: RedisConnection;
  const queues: RedisQueueFactory[] = [];
  const children: ChildProcess[] = [];

  function makeQueues(): { queues: RedisQueueFactory; prefix: string } {
    const prefix = uniquePrefix('queue');
    const q = new RedisQueueFactory(conn, prefix);
    queues.push(q);
    return { queues: q, prefix };
  }

  before(async () => {
    conn = await connect({ url: testRedisUrl() });
  });

  after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(queues.map((q) => q.close({ deadlineMs: 1000 })));
    await conn.close();
  });

  void test('1,000 items, 4 workers with concurrency 8: every item handled, none lost, no duplicates', async () => {
    const q = makeQueues().queues.queue<{ n: number }>('bulk');
    const handled = new Map<number, number>();
    const perWorker = [0, 0, 0, 0];
    const workers = perWorker.map((_, w) =>
      q.work(
        async (job) => {
          await new Promise((resolve) => setImmediate(resolve));
          handled.set(job.data.n, (handled.get(job.data.n) ?? 0) + 1);
          perWorker[w] = (perWorker[w] ?? 0) + 1;
        },
        { concurrency: 8 },
      ),
    );
    // Pushed once every worker waits, so that all of them compete for the items.
    await Promise.all(workers.map((w) => w.ready));
    assert.equal(await q.push(Array.from({ length: 1000 }, (_, n) => ({ n }))), 1000);
    await waitFor(
      async () => {
        const c = await q.counts();
        return handled.size === 1000 && c.pending === 0 && c.processing === 0;
      },
      { timeoutMs: 45_000, message: 'not every item was handled and acknowledged' },
    );
    await Promise.all(workers.map((w) => w.close()));
    const total = [...handled.values()].reduce((a, b) => a + b, 0);
    const expired = workers.reduce((a, w) => a + w.stats().reaped + w.stats().leasesLost, 0);
    assert.equal(handled.size, 1000, 'lost items');
    // Duplicates are allowed only when a lease expired (none should at a 30 s visibility timeout).
    assert.ok(total - 1000 <= expired, `${total - 1000} duplicates without an expired lease`);
    assert.equal(expired, 0);
    assert.equal(
      workers.reduce((a, w) => a + w.stats().succeeded, 0),
      total,
    );
    assert.ok(
      perWorker.filter((n) => n > 0).length >= 2,
      `work was not shared: ${perWorker.join(',')}`,
    );
    assert.deepEqual(await q.counts(), { pending: 0, processing: 0, dead: 0 });
  });

  void test('identical payloads are distinct items; jobs carry id, attempt, pushedAt; FIFO order', async () => {
    const q = makeQueues().queues.queue<string>('same');
    await q.push(['a', 'a', 'a']);
    await q.push('b');
    const jobs: Job<string>[] = [];
    const w = q.work((job) => void jobs.push(job), { concurrency: 1 });
    await waitFor(() => jobs.length === 4);
    await w.close();
    assert.deepEqual(
      jobs.map((j) => j.data),
      ['a', 'a', 'a', 'b'],
    );
    assert.equal(new Set(jobs.map((j) => j.id)).size, 4);
    assert.ok(
      jobs.every(
        (j) => j.attempt === 1 && j.queue === 'same' && !Number.isNaN(Date.parse(j.pushedAt)),
      ),
    );
  });

  void test('a worker SIGKILLed while handling an item: another worker handles it after the visibility timeout', async () => {
    const { queues: qs, prefix } = makeQueues();
    const q = qs.queue<{ n: number }>('killed');
    await q.push(Array.from({ length: 5 }, (_, n) => ({ n })));

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fixture, testRedisUrl(), prefix, 'killed', '500'],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let out = '';
    let err = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
    const took = await waitFor(
      () => {
        if (child.exitCode !== null)
          throw new Error(`fixture exited with ${child.exitCode}: ${err}`);
        return /TOOK (\w+)/.exec(out)?.[1];
      },
      { timeoutMs: 30_000, message: 'the fixture did not take an item' },
    );
    assert.equal((await q.counts()).processing, 1, 'the taken item is in processing');
    child.kill('SIGKILL');
    await once(child, 'exit');

    const jobs: Job<{ n: number }>[] = [];
    const w = q.work((job) => void jobs.push(job), { concurrency: 2, visibilityTimeoutMs: 500 });
    const recovered = await waitFor(() => jobs.find((j) => j.id === took), {
      timeoutMs: 20_000,
      message: 'the killed worker item was not recovered',
    });
    assert.equal(recovered?.attempt, 2, 'the lost delivery counts as an attempt');
    assert.equal(recovered?.data.n, 0, 'the fixture took the oldest item');
    await waitFor(async () => (await q.counts()).processing === 0 && jobs.length === 5);
    await w.close();
    assert.deepEqual(new Set(jobs.map((j) => j.data.n)), new Set([0, 1, 2, 3, 4]), 'lost = 0');
    assert.equal(jobs.length, 5, 'each item handled once in this process');
    assert.ok(w.stats().reaped >= 1);
    assert.deepEqual(await q.counts(), { pending: 0, processing: 0, dead: 0 });
  });

  void test('a failing handler is retried, then the item lands in the dead list after maxAttempts', async () => {
    const q = makeQueues().queues.queue<string>('failing');
    await q.push(['poison', 'flaky']);
    const attempts: string[] = [];
    const w = q.work(
      (job) => {
        attempts.push(`${job.data}#${job.attempt}`);
        if (job.data === 'poison' || job.attempt === 1)
          throw new Error(`cannot handle ${job.data}`);
      },
      { maxAttempts: 3 },
    );
    await waitFor(async () => (await q.counts()).dead === 1 && attempts.includes('flaky#2'), {
      message: 'poison was not dead-lettered',
    });
    await w.close();
    assert.deepEqual(
      attempts.filter((a) => a.startsWith('poison')),
      ['poison#1', 'poison#2', 'poison#3'],
    );
    assert.deepEqual(
      attempts.filter((a) => a.startsWith('flaky')),
      ['flaky#1', 'flaky#2'],
    );
    const [dead] = await q.dead();
    assert.equal(dead?.data, 'poison');
    assert.equal(dead?.attempts, 3);
    assert.equal(dead?.reason, 'handler-failed');
    assert.match(dead?.error ?? '', /cannot handle poison/);
    assert.deepEqual(w.stats(), {
      inFlight: 0,
      succeeded: 1,
      failed: 4,
      deadLettered: 1,
      reaped: 0,
      leasesLost: 0,
    });
    assert.deepEqual(await q.counts(), { pending: 0, processing: 0, dead: 1 });
  });

  void test('close() lets in-flight handlers finish and acknowledges them; nothing is lost', async () => {
    const q = makeQueues().queues.queue<number>('graceful');
    await q.push(Array.from({ length: 20 }, (_, n) => n));
    const release = gate();
    const started: number[] = [];
    const finished: number[] = [];
    const w = q.work(
      async (job) => {
        started.push(job.data);
        await release.promise;
        finished.push(job.data);
      },
      { concurrency: 5 },
    );
    await waitFor(() => started.length === 5);
    const closing = w.close({ deadlineMs: 15_000 });
    release.open();
    await closing;
    assert.deepEqual(finished.sort(), started.sort());
    assert.equal(started.length, 5, 'nothing taken after close()');
    assert.deepEqual(await q.counts(), { pending: 15, processing: 0, dead: 0 });

    const rest: number[] = [];
    const w2 = q.work((job) => void rest.push(job.data));
    await waitFor(() => rest.length === 15);
    await w2.close();
    assert.deepEqual(
      [...finished, ...rest].sort((a, b) => a - b),
      Array.from({ length: 20 }, (_, n) => n),
    );
  });

  void test('close() past its deadline leaves the item leased; another worker recovers it', async () => {
    const q = makeQueues().queues.queue<string>('stuck');
    await q.push('slow');
    const hold = gate();
    let first = 0;
    const w = q.work(
      async () => {
        first++;
        await hold.promise;
      },
      { visibilityTimeoutMs: 500 },
    );
    await waitFor(() => first === 1);
    await w.close({ deadlineMs: 50 });
    assert.equal((await q.counts()).processing, 1, 'still leased to the closed worker');
    const again: Job<string>[] = [];
    const w2 = q.work((job) => void again.push(job), { visibilityTimeoutMs: 500 });
    await waitFor(() => again.length === 1, { message: 'not recovered' });
    assert.equal(again[0]?.attempt, 2);
    hold.open(); // the first handler ends late: its acknowledgement finds the item gone
    await waitFor(() => w.stats().leasesLost === 1, {
      message: 'the late ack did not notice the lost lease',
    });
    await w2.close();
    assert.deepEqual(await q.counts(), { pending: 0, processing: 0, dead: 0 });
  });

  void test('a live worker renews its leases: a handler longer than the visibility timeout is not redelivered', async () => {
    const { queues: qs, prefix } = makeQueues();
    const q = qs.queue<string>('long');
    const keys = queueKeys(prefix, 'long');
    await q.push('long job');
    const hold = gate();
    const seen: number[] = [];
    const w = q.work(
      async (job) => {
        seen.push(job.attempt);
        await hold.promise;
      },
      { visibilityTimeoutMs: 300 },
    );
    await waitFor(() => seen.length === 1);
    // A second worker whose reaper would take the item over if its lease expired.
    const other = q.work(() => void seen.push(-1), { visibilityTimeoutMs: 300 });
    const member = (await waitFor(() => leaseMember(conn, keys.leases))) ?? '';
    const firstDeadline = Number(await conn.send(['ZSCORE', keys.leases, member]));
    // Held until the lease was renewed past three visibility timeouts after its first deadline.
    await waitFor(
      async () => Number(await conn.send(['ZSCORE', keys.leases, member])) > firstDeadline + 900,
      { timeoutMs: 20_000, message: 'the lease was not renewed' },
    );
    hold.open();
    await waitFor(async () => (await q.counts()).processing === 0);
    await Promise.all([w.close(), other.close()]);
    assert.deepEqual(seen, [1], 'handled once, never redelivered');
    assert.equal(w.stats().leasesLost + other.stats().reaped, 0);
  });

  void test('foreign items pushed by other tools are delivered with data = the raw string', async () => {
    const { queues: qs, prefix } = makeQueues();
    const q = qs.queue('foreign');
    await conn.send(['LPUSH', queueKeys(prefix, 'foreign').pending, 'hello', 'hello']);
    const jobs: Job[] = [];
    const w = q.work((job) => void jobs.push(job));
    await waitFor(() => jobs.length === 2);
    await w.close();
    assert.deepEqual(
      jobs.map((j) => j.data),
      ['hello', 'hello'],
    );
    assert.notEqual(jobs[0]?.id, jobs[1]?.id);
    assert.deepEqual(await q.counts(), { pending: 0, processing: 0, dead: 0 });
  });

  void test('bad input is refused before anything is written', async () => {
    const { queues: qs } = makeQueues();
    assert.throws(() => qs.queue('a{b}'), { code: 'HERALD_CONFIG' });
    const q = qs.queue<unknown>('refused');
    await assert.rejects(q.push([1, () => 2]), { code: 'HERALD_VALIDATION' });
    assert.equal(await q.size(), 0);
    assert.throws(() => q.work(() => {}, { concurrency: 0 }), { code: 'HERALD_CONFIG' });
  });
});

/** The first lease member of a leases zset, or undefined when there is none. */
async function leaseMember(conn: RedisConnection, key: string): Promise<string | undefined> {
  const [member] = await conn.send<string[]>(['ZRANGE', key, '0', '0']);
  return member;
}
