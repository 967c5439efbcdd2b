/**
 * The console in a real headless Chromium against a real Redis holding topics,
 * a working group, a stalled group, a group without consumers, dead letters and
 * a queue. Screenshots go under .herald/screenshots (HERALD_UPDATE_DOCS=1: docs/).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import type { Subscription } from '../core/contract.ts';
import { silentLogger } from '../core/logger.ts';
import { defineTopic } from '../core/topic.ts';
import { RedisBackend } from '../redis/backend.ts';
import { partitionKeys } from '../redis/keys.ts';
import { testRedisUrl, uniquePrefix, waitFor } from '../test-support/redis.ts';
import { startConsole, type RunningConsole } from './server.ts';
import { call } from './testing.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = fileURLToPath(
  new URL(
    process.env.HERALD_UPDATE_DOCS === '1' ? '../../docs/' : '../../.herald/screenshots/',
    import.meta.url,
  ),
);
const DEAD = 3;

void describe('console in headless Chromium', () => {
  let backend: RedisBackend;
  let server: RunningConsole;
  let browser: BrowserContext;
  let profile: string;
  let billing: Subscription;
  let failing = true;
  const orders = defineTopic({ name: 'orders', partitions: 2 });
  const payments = defineTopic({ name: 'payments' });
  const stream = (p: number) => partitionKeys(backend.prefix, orders, p).stream;

  async function shot(page: Page, name: string): Promise<void> {
    mkdirSync(SHOTS, { recursive: true });
    const file = path.join(SHOTS, `console-${name}.png`);
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(existsSync(file));
  }

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    backend = await RedisBackend.connect({
      url: testRedisUrl(),
      prefix: uniquePrefix('console'),
      logger: silentLogger,
    });
    await backend.publishBatch(
      orders,
      Array.from({ length: 20 }, (_, i) => ({ data: { order: i }, key: `k${i}` })),
    );
    await backend.publish(payments, { data: { paid: 1 } });
    // audit: read 3 events on partition 0 and 2 on partition 1, never acknowledges: stalled.
    for (const [p, n] of [
      [0, 3],
      [1, 2],
    ] as const) {
      await backend.conn.send(['XGROUP', 'CREATE', stream(p), 'audit', '0', 'ENTRIESREAD', '0']);
      await backend.conn.send([
        'XREADGROUP',
        'GROUP',
        'audit',
        'auditor-1',
        'COUNT',
        String(n),
        'STREAMS',
        stream(p),
        '>',
      ]);
    }
    // analytics: a group nobody consumes.
    await backend.conn.send([
      'XGROUP',
      'CREATE',
      partitionKeys(backend.prefix, payments, 0).stream,
      'analytics',
      '$',
      'ENTRIESREAD',
      '1',
    ]);
    billing = backend.subscribe(
      orders,
      { group: 'billing', startFrom: 'beginning', maxAttempts: 1 },
      (d) => {
        if (failing && (d.data as { poison?: boolean }).poison) throw new Error('card declined');
      },
    );
    await billing.ready;
    await backend.publishBatch(
      orders,
      Array.from({ length: DEAD }, (_, i) => ({ data: { poison: true, i } })),
    );
    const q = backend.queue('emails');
    await q.push([{ to: 'a@example.com' }, { to: 'b@example.com' }]);
    const w = q.work(
      () => {
        throw new Error('smtp down');
      },
      { maxAttempts: 1, blockMs: 100 },
    );
    await waitFor(async () => (await q.counts()).dead === 2, { timeoutMs: 30_000 });
    await w.close();
    await q.push({ to: 'c@example.com' });
    await waitFor(async () => (await backend.deadLetters.list(orders)).length === DEAD, {
      timeoutMs: 30_000,
    });

    server = await startConsole({
      backend,
      port: 0,
      env: {},
      logger: silentLogger,
      monitor: { sampleMs: 500, stallAfterMs: 1500 },
    });
    profile = mkdtempSync(path.join(tmpdir(), 'herald-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    await billing?.close({ deadlineMs: 1000 });
    await backend?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test('overview: live numbers, stalled and consumer-less groups, health', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(server.url);
    const length = page.locator('[data-topic="orders"] [data-length]');
    await length.waitFor();
    await page.locator('[data-group="orders/audit"] [data-status="stalled"]').waitFor();
    await page.locator('[data-group="payments/analytics"] [data-status="no-consumer"]').waitFor();
    await page.locator('[data-group="orders/billing"] [data-status="ok"]').waitFor();
    await page.locator('#checks li', { hasText: 'persistence' }).waitFor();
    await page.locator('[data-capacity="ok"]').waitFor();
    const before = Number((await length.textContent())?.replace(/,/g, ''));
    const published = await call(`${server.url}/v1/topics/orders/events`, {
      body: Array.from({ length: 7 }, (_, i) => ({ data: { live: i } })),
    });
    assert.equal(published.status, 202);
    await waitFor(
      async () => Number((await length.textContent())?.replace(/,/g, '')) === before + 7,
      { timeoutMs: 30_000, intervalMs: 100, message: 'the length updates without reload' },
    );
    await page.locator('[data-topic="orders"] [data-rate-in]', { hasText: /\/s/ }).waitFor();
    assert.equal(
      await page.locator('[data-topic="orders"] [data-dead]').textContent(),
      String(DEAD),
    );
    await shot(page, 'overview');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'phone');
    await page.close();
  });

  test('topic: browse from the beginning with decoded events, live tail', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${server.url}/#/topic/orders`);
    await page.fill('input[name="from"]', 'beginning');
    await page.click('#browse button.primary');
    await page.locator('details.event').first().waitFor();
    await page.locator('details.event').first().click();
    await page.locator('details.event[open] pre', { hasText: '"order": 0' }).first().waitFor();
    await page.click('#tail');
    await page.locator('#tail-note').waitFor();
    await waitFor(async () => (await page.locator('#live.on').count()) === 1, {
      timeoutMs: 20_000,
    });
    await call(`${server.url}/v1/topics/orders/events`, { body: { data: { tailed: 'yes' } } });
    await page.locator('details.event', { hasText: 'tailed' }).waitFor();
    await shot(page, 'topic');
    await page.close();
  });

  test('group: reset preview shows the right count, then the reset applies', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${server.url}/#/topic/orders/group/audit`);
    await page.locator('h1', { hasText: 'STALLED' }).waitFor();
    await page.fill('#reset-to', 'beginning');
    await page.click('#preview');
    const preview = page.locator('#reset-preview');
    await preview.waitFor();
    // audit read 3 + 2 events: going back to the beginning replays exactly those.
    assert.equal(await preview.getAttribute('data-replays'), '5');
    assert.equal(await preview.getAttribute('data-skips'), '0');
    await shot(page, 'group');
    const lagBefore = (await backend.conn.send<unknown[]>(['XINFO', 'GROUPS', stream(0)])).length;
    assert.ok(lagBefore > 0);
    await page.click('#reset-confirm');
    await page.locator('#message', { hasText: 'replays 5' }).waitFor();
    const read = await backend.conn.send<
      [string, [string, string[]][]][] | Record<string, unknown>
    >(['XREADGROUP', 'GROUP', 'audit', 'auditor-1', 'COUNT', '1', 'STREAMS', stream(0), '>']);
    const [first] = await backend.conn.send<[string, string[]][]>([
      'XRANGE',
      stream(0),
      '-',
      '+',
      'COUNT',
      '1',
    ]);
    assert.match(
      JSON.stringify(read),
      new RegExp(first?.[0] ?? 'missing'),
      'the group reads from the beginning again',
    );
    await page.close();
  });

  test('dead letters: replay one, then all; the UI shows them gone', async () => {
    failing = false;
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${server.url}/#/dead-letters/orders`);
    await page
      .locator('tr.dead-letter')
      .nth(DEAD - 1)
      .waitFor();
    await page.locator('tr.dead-letter', { hasText: 'card declined' }).first().waitFor();
    await shot(page, 'dead-letters');
    await page.locator('.pick').first().check();
    await page.click('#replay-selected');
    await page.locator('#message', { hasText: 'replayed 1 dead letter' }).waitFor();
    await page.locator('#dlq-count', { hasText: `${DEAD - 1} dead letter` }).waitFor();
    await page.click('#replay-all');
    await page.locator('#message', { hasText: `replayed ${DEAD - 1} dead letter` }).waitFor();
    await page.locator('#dlq-count', { hasText: '0 dead letter' }).waitFor();
    assert.equal((await backend.deadLetters.list(orders)).length, 0);
    await page.goto(`${server.url}/#/`);
    await page.locator('[data-topic="orders"] [data-dead]', { hasText: /^0$/ }).waitFor();
    await page.close();
  });

  test('queues: counts, dead items, retry', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(`${server.url}/#/queues`);
    const row = page.locator('[data-queue-row="emails"]');
    await row.locator('[data-dead]', { hasText: '2' }).waitFor();
    await page.locator('td', { hasText: 'smtp down' }).first().waitFor();
    await shot(page, 'queues');
    await row.locator('button.retry').click();
    await page.locator('#message', { hasText: 'Retried 2 dead item' }).waitFor();
    await row.locator('[data-pending]', { hasText: '3' }).waitFor();
    await page.close();
  });

  test('with tokens: the page asks for one, then shows the overview', async () => {
    const token = 'oncall-token-0123456789';
    const secured = await startConsole({
      backend,
      port: 0,
      env: {},
      logger: silentLogger,
      tokens: [{ name: 'oncall', token, rights: ['read'] }],
    });
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    try {
      await page.goto(secured.url);
      await page.locator('#login:not([hidden])').waitFor();
      await page.fill('#token', token);
      await page.click('#login button');
      await page.locator('[data-topic="orders"] [data-length]').waitFor();
      assert.equal(await page.locator('#login').isHidden(), true);
    } finally {
      await page.close();
      await secured.close();
    }
  });
});
