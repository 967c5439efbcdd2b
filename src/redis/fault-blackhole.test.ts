/**
 * A peer that vanishes without FIN or RST: Herald talks to Redis through a TCP proxy that keeps
 * every connection open but stops forwarding (a blackhole), then lets new connections through
 * again (heal) while the blackholed ones stay silent forever. Every connection Herald holds
 * must notice within the dead-peer bound, drop its socket and reconnect: publishing succeeds
 * again, the subscription delivers again (lost = 0) and reports disconnected then reconnected
 * with one log line each, a notifications listener and a queue worker resume.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertNoLoss, DeliveryChecker, describeReport } from '../testing/checker.ts';
import type { SubscriptionStatus } from '../core/contract.ts';
import type { HeraldLogger } from '../core/logger.ts';
import type { NotifierStatus } from '../core/notifications.ts';
import type { WorkerStatus } from '../core/queue.ts';
import { defineTopic, type Topic } from '../core/topic.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { startTcpProxy, type TcpProxy } from '../testing/tcp-proxy.ts';
import { RedisBackend } from './backend.ts';
import { connect, DEFAULT_DEAD_PEER_TIMEOUT_MS } from './connection.ts';

/** The bound the tests set (the product's default is 15 s). */
const BOUND_MS = 3000;
/**
 * What the tests allow for noticing a silent peer, or for working again after heal: the bound,
 * plus slack for a reconnect on a machine shared with other suites.
 */
const RECOVERY_MS = BOUND_MS + 6000;
const PUBLISH_TIMEOUT_MS = 1000;

interface LogLine {
  readonly level: 'info' | 'warn' | 'error';
  readonly msg: string;
}

function recordingLogger(lines: LogLine[]): HeraldLogger {
  const at =
    (level: LogLine['level']) =>
    (_obj: object, msg?: string): void =>
      void lines.push({ level, msg: msg ?? '' });
  return { info: at('info'), warn: at('warn'), error: at('error') };
}

function collect<S>(statuses: AsyncIterable<S>): S[] {
  const seen: S[] = [];
  void (async () => {
    for await (const s of statuses) seen.push(s);
  })();
  return seen;
}

/**
 * Publishes `id` until a publish is acknowledged (the same id again is deduplicated); fails
 * with the last error when none is within RECOVERY_MS.
 */
async function publishUntilStored(
  backend: RedisBackend,
  topic: Topic<unknown>,
  id: string,
  checker: DeliveryChecker,
): Promise<void> {
  const deadline = Date.now() + RECOVERY_MS;
  for (;;) {
    try {
      checker.published(
        await backend.publish(topic, { id, data: { id } }, { timeoutMs: PUBLISH_TIMEOUT_MS }),
      );
      return;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(50);
    }
  }
}

/** Closing must not hang the suite when a connection stays stuck (as it does without detection). */
const CLOSE_WAIT_MS = 5000;

function elapsedSince(t0: number): number {
  return Date.now() - t0;
}

void describe('a peer that goes silent without closing (blackhole)', () => {
  let proxy: TcpProxy;
  let direct: RedisBackend;
  const closers: (() => Promise<void>)[] = [];

  before(async () => {
    const target = new URL(testRedisUrl());
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port) });
  });

  afterEach(async () => {
    proxy.heal();
    for (const close of closers.splice(0).reverse()) {
      await Promise.race([close().catch(() => {}), sleep(CLOSE_WAIT_MS)]);
    }
  });

  after(async () => {
    await proxy.close();
  });

  async function throughProxy(prefix: string, lines: LogLine[] = []): Promise<RedisBackend> {
    const backend = await RedisBackend.connect({
      url: proxy.url,
      prefix,
      deadPeerTimeoutMs: BOUND_MS,
      logger: recordingLogger(lines),
    });
    closers.push(() => backend.close({ deadlineMs: 1000 }));
    return backend;
  }

  async function directTo(prefix: string): Promise<RedisBackend> {
    direct = await RedisBackend.connect({ url: testRedisUrl(), prefix });
    closers.push(() => direct.close({ deadlineMs: 1000 }));
    return direct;
  }

  void test('the dead-peer bound defaults to at most 15 s and is set per connection', async () => {
    assert.ok(DEFAULT_DEAD_PEER_TIMEOUT_MS <= 15_000, `default ${DEFAULT_DEAD_PEER_TIMEOUT_MS}`);
    const byDefault = await connect({ url: testRedisUrl() });
    const set = await connect({ url: testRedisUrl(), deadPeerTimeoutMs: BOUND_MS });
    const duplicate = await set.duplicate();
    try {
      assert.equal(byDefault.deadPeerTimeoutMs, DEFAULT_DEAD_PEER_TIMEOUT_MS);
      assert.equal(set.deadPeerTimeoutMs, BOUND_MS);
      assert.equal(duplicate.deadPeerTimeoutMs, BOUND_MS);
    } finally {
      for (const c of [byDefault, set, duplicate]) c.destroy();
    }
    await assert.rejects(connect({ url: testRedisUrl(), deadPeerTimeoutMs: -1 }), {
      code: 'HERALD_CONFIG',
    });
  });

  void test('publishing and consuming resume after heal; status and log say disconnected then reconnected; lost = 0', async () => {
    const lines: LogLine[] = [];
    const backend = await throughProxy(uniquePrefix('blackhole'), lines);
    const topic = defineTopic({ name: 'blackhole.orders' });
    const checker = new DeliveryChecker();
    const sub = backend.subscribe(topic, { group: 'g', visibilityTimeoutMs: 2000 }, (e) =>
      checker.handled(e),
    );
    closers.push(() => sub.close({ deadlineMs: 1000 }));
    const statuses = collect<SubscriptionStatus>(sub.status());
    await sub.ready;

    for (let i = 0; i < 20; i++) await publishUntilStored(backend, topic, `before-${i}`, checker);
    await waitFor(() => checker.allDelivered(), { message: 'delivered before the blackhole' });

    proxy.blackhole();
    const blackholedAt = Date.now();
    await assert.rejects(
      backend.publish(topic, { id: 'during', data: {} }, { timeoutMs: PUBLISH_TIMEOUT_MS }),
      'a publish into the blackhole times out',
    );
    await waitFor(() => statuses.some((s) => s.type === 'disconnected'), {
      timeoutMs: RECOVERY_MS,
      message: 'the subscription did not notice the silent peer',
    });
    const noticedMs = elapsedSince(blackholedAt);

    proxy.heal();
    const healedAt = Date.now();
    await publishUntilStored(backend, topic, 'after-0', checker);
    const publishedAgainMs = elapsedSince(healedAt);
    await waitFor(() => checker.allDelivered(), {
      timeoutMs: RECOVERY_MS,
      message: `the subscription did not deliver again: ${describeReport(checker.report())}`,
    });
    const deliveredAgainMs = elapsedSince(healedAt);
    for (let i = 1; i < 20; i++) await publishUntilStored(backend, topic, `after-${i}`, checker);
    await waitFor(() => checker.allDelivered(), {
      timeoutMs: RECOVERY_MS,
      message: describeReport(checker.report()),
    });

    const types = statuses.map((s) => s.type).filter((t) => t !== 'error' && t !== 'reclaimed');
    assert.deepEqual(types, ['ready', 'disconnected', 'reconnected']);
    const connectionLines = lines.filter((l) => /Redis/.test(l.msg));
    assert.deepEqual(
      connectionLines.map((l) => l.level),
      ['warn', 'info'],
      JSON.stringify(connectionLines),
    );
    assertNoLoss(checker.report());
    assert.ok(noticedMs < RECOVERY_MS, `noticed after ${noticedMs} ms`);
    assert.ok(publishedAgainMs < RECOVERY_MS, `published again after ${publishedAgainMs} ms`);
    assert.ok(deliveredAgainMs < RECOVERY_MS, `delivered again after ${deliveredAgainMs} ms`);
    console.log(
      `# blackhole: bound ${BOUND_MS} ms; subscription noticed after ${noticedMs} ms; ` +
        `after heal, published again after ${publishedAgainMs} ms, delivered again after ${deliveredAgainMs} ms; ` +
        describeReport(checker.report()),
    );
  });

  void test('a notifications listener reports disconnected, then reconnected, and hears again', async () => {
    const prefix = uniquePrefix('blackhole-n');
    const backend = await throughProxy(prefix);
    const sender = await directTo(prefix);
    const notifier = backend.notifications;
    const statuses = collect<NotifierStatus>(notifier.status());
    const heard: unknown[] = [];
    await notifier.listen('pings', (n) => void heard.push(n.data));
    await waitFor(async () => (await sender.notifications.notify('pings', 'before')) === 1);
    await waitFor(() => heard.includes('before'));

    proxy.blackhole();
    const blackholedAt = Date.now();
    await waitFor(() => statuses.some((s) => s.type === 'disconnected'), {
      timeoutMs: RECOVERY_MS,
      message: 'the listener did not notice the silent peer',
    });
    const noticedMs = elapsedSince(blackholedAt);
    proxy.heal();
    const healedAt = Date.now();
    await waitFor(() => statuses.some((s) => s.type === 'reconnected'), {
      timeoutMs: RECOVERY_MS,
      message: 'the listener did not reconnect',
    });
    // Renewed subscription: a notification sent now is heard.
    await waitFor(
      async () => {
        await sender.notifications.notify('pings', 'after');
        return heard.includes('after');
      },
      { timeoutMs: RECOVERY_MS, intervalMs: 100, message: 'the listener does not hear again' },
    );
    const hearsAgainMs = elapsedSince(healedAt);
    assert.ok(noticedMs < RECOVERY_MS, `noticed after ${noticedMs} ms`);
    console.log(
      `# notifications: noticed after ${noticedMs} ms; hears again ${hearsAgainMs} ms after heal`,
    );
  });

  void test('a queue worker reports disconnected, then reconnected, and handles every item', async () => {
    const prefix = uniquePrefix('blackhole-q');
    const backend = await throughProxy(prefix);
    const producer = await directTo(prefix);
    const handled = new Set<number>();
    const worker = backend
      .queue<number>('jobs')
      .work((job) => void handled.add(job.data), { visibilityTimeoutMs: 2000 });
    closers.push(() => worker.close({ deadlineMs: 1000 }));
    const statuses = collect<WorkerStatus>(worker.status());
    await worker.ready;
    const jobs = producer.queue<number>('jobs');
    await jobs.push([1, 2, 3]);
    await waitFor(() => handled.size === 3);

    proxy.blackhole();
    const blackholedAt = Date.now();
    await waitFor(() => statuses.some((s) => s.type === 'disconnected'), {
      timeoutMs: RECOVERY_MS,
      message: 'the worker did not notice the silent peer',
    });
    const noticedMs = elapsedSince(blackholedAt);
    await jobs.push([4, 5, 6]);
    proxy.heal();
    const healedAt = Date.now();
    await waitFor(() => handled.size === 6, {
      timeoutMs: RECOVERY_MS,
      message: `the worker did not take again (handled ${[...handled].join(',')})`,
    });
    const handledAgainMs = elapsedSince(healedAt);
    await waitFor(() => statuses.some((s) => s.type === 'reconnected'));
    // Acknowledged too (the acknowledgements go out in batches, just after the handlers).
    await waitFor(async () => {
      assert.deepEqual(await jobs.counts(), { pending: 0, processing: 0, dead: 0 });
      return true;
    });
    console.log(
      `# queue worker: noticed after ${noticedMs} ms; handles again ${handledAgainMs} ms after heal`,
    );
  });
});
