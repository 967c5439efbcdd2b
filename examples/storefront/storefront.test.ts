import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext } from 'playwright-core';
import { testRedisUrl, waitFor } from '../../src/test-support/redis.ts';
import { startFailureMonitor } from '../saga/failure-monitor.ts';
import { startFulfillmentService } from '../saga/fulfillment.ts';
import { startOrderService } from '../saga/order.ts';
import { startPaymentService } from '../saga/payment.ts';
import type { RunningService } from '../saga/runtime.ts';
import { testConfig } from '../saga/test-support.ts';
import { startStorefront } from './server.ts';

const CHROMIUM = '/usr/bin/chromium';
// The test's screenshot goes under .herald/ (ignored); HERALD_UPDATE_DOCS=1 refreshes the one in docs/.
const SCREENSHOT = fileURLToPath(
  new URL(
    process.env.HERALD_UPDATE_DOCS === '1'
      ? '../../docs/storefront.png'
      : '../../.herald/screenshots/storefront.png',
    import.meta.url,
  ),
);
const TERMINAL = ['COMPLETED_SUCCESSFULLY', 'BLOCKED_NO_FUNDS', 'COMPLETED_WITH_FAILURE'];

describe('storefront in headless Chromium', () => {
  const services: RunningService[] = [];
  let url: string;
  let browser: BrowserContext;
  let profile: string;

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    const config = testConfig(testRedisUrl(), 'storefront');
    const order = await startOrderService(config, { port: 0 });
    services.push(
      order,
      ...(await Promise.all([
        startPaymentService(config),
        startFulfillmentService(config),
        startFailureMonitor(config),
      ])),
    );
    const storefront = await startStorefront({
      redisUrl: config.redisUrl,
      keyPrefix: config.keyPrefix,
      orderUrl: order.url,
      port: 0,
    });
    services.push(storefront);
    url = storefront.url;
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
    await Promise.all(services.map((s) => s.close()));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test('place an order, watch it complete, place a burst; save a screenshot', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(30_000);
    await page.goto(url);
    await page.locator('#balances td').first().waitFor();

    await page.fill('#user', 'alice');
    await page.selectOption('#product', 'shortbread');
    await page.fill('#amount', '25');
    await page.selectOption('#country', 'GB');
    await page.click('#place');
    await page.locator('#message', { hasText: 'Placed ord-' }).waitFor();
    const orderId = await page.locator('#message').getAttribute('data-order-id');
    assert.match(orderId ?? '', /^ord-\d+$/);
    const card = page.locator(`.order[data-id="${orderId}"]`);
    await card.locator('.state', { hasText: 'COMPLETED_SUCCESSFULLY' }).waitFor();
    assert.deepEqual(
      (await card.locator('ol.timeline li').allTextContents()).map((t) => t.replace(/\d.*$/, '')),
      ['AWAITING_PAYMENT', 'PAID', 'AWAITING_SHIPMENT', 'SHIPPED', 'COMPLETED_SUCCESSFULLY'],
    );

    // Haggis to the US is refused and refunded.
    await page.selectOption('#product', 'haggis');
    await page.selectOption('#country', 'US');
    await page.click('#place');
    await page
      .locator('#message', { hasText: new RegExp(`Placed ord-(?!${orderId?.slice(4)}\\b)`) })
      .waitFor();
    const haggis = await page.locator('#message').getAttribute('data-order-id');
    await page
      .locator(`.order[data-id="${haggis}"] .state`, { hasText: 'COMPLETED_WITH_FAILURE' })
      .waitFor();

    await page.fill('#burst-count', '8');
    await page.click('#burst');
    await page.locator('#message', { hasText: 'Placed 8 random orders' }).waitFor();
    await waitFor(
      async () => {
        const states = await page.locator('.order .state').allTextContents();
        return states.length === 10 && states.every((s) => TERMINAL.includes(s));
      },
      {
        timeoutMs: 30_000,
        intervalMs: 100,
        message: 'every order on the page reaches a terminal state',
      },
    );
    const processed = await page.locator('#processed').textContent();
    assert.match(processed ?? '', /payment\s*\d+/);
    mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    assert.ok(existsSync(SCREENSHOT));
  });
});
