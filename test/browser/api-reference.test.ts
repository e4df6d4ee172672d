import type { FastifyInstance } from 'fastify';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/http/openapi';
import { buildApp } from '../../src/app';
import { channelFactory } from '../../dev/factories';
import { testDatabase } from '../support/database';

/** Debian's Chromium; no browser is downloaded. */
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const screenshotPath = process.env.SCREENSHOT_PATH ?? 'docs/api-reference.png';
const token = 'a-long-enough-browser-token';

let app: FastifyInstance;
let address: string;
let browser: Browser;

beforeAll(async () => {
  app = await buildApp({
    db: testDatabase().db,
    logger: false,
    tokens: [{ token, role: 'admin' }],
    production: false,
  });
  address = await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
});

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

describe('the API reference page at /docs', () => {
  it('lists every endpoint and calls channels.list with the bearer token, under its content security policy, keeping the token out of storage', async () => {
    const channel = await channelFactory.create({ name: 'Shown on the reference page' });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    page.setDefaultTimeout(10_000);
    // Whatever the page's policy blocks is reported here: the page must work without it.
    await page.addInitScript({
      content: `window.blocked = [];
        document.addEventListener('securitypolicyviolation', (event) =>
          window.blocked.push(event.violatedDirective + ' ' + event.blockedURI));`,
    });
    const loaded = await page.goto(`${address}/docs`);
    expect(loaded?.headers()['content-security-policy']).toMatch(/default-src 'none'/);

    const operations = page.locator('.opblock');
    await operations.first().waitFor();
    const documented = Object.values(openApiDocument().paths ?? {}).flatMap((item) =>
      Object.keys(item ?? {}),
    );
    expect(await operations.count()).toBe(documented.length);

    const list = page.locator('#operations-channels-channels-list');
    await list.locator('.opblock-summary').click();
    const execute = list.getByRole('button', { name: 'Execute' });
    const status = list.locator('.live-responses-table tbody .response-col_status');
    await execute.click();
    await expect.poll(async () => (await status.innerText()).trim()).toMatch(/^401/);

    await page.getByRole('button', { name: 'Authorize' }).first().click();
    const dialog = page.locator('.modal-ux');
    await dialog.locator('input').fill(token);
    await dialog.locator('button', { hasText: /^Authorize$/ }).click();
    await dialog.locator('button', { hasText: /^Close$/ }).click();

    await execute.click();
    await expect.poll(async () => (await status.innerText()).trim()).toBe('200');
    expect(await list.locator('.live-responses-table tbody .response-col_description').innerText()).toContain(
      channel.id,
    );
    // The token lives in the page only, not in the browser's storage.
    expect(await page.evaluate('JSON.stringify([{ ...localStorage }, { ...sessionStorage }])')).not.toContain(
      token,
    );
    expect(await page.evaluate('window.blocked')).toEqual([]);

    await list.scrollIntoViewIfNeeded();
    await page.screenshot({ path: screenshotPath, fullPage: false });
  });
});
