import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type Browser, chromium, type Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { seedDatabase } from '../../dev/seeding/bulk-seed';
import { seedPlanFrom } from '../../dev/seeding/seed-plan';
import { adminContentSecurityPolicy } from '../../src/http/admin';
import { previewBulk } from '../../src/queue/bulk';
import { bulkPreviewInput } from '../../src/schemas/job-bulk';
import { claimJobsInput, failJobInput } from '../../src/schemas/processing-job';
import { claimJobs, completeJob, failJob } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';

/** Debian's Chromium; no browser is downloaded. */
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const screenshots = process.env.SCREENSHOT_DIR ?? 'docs';
const tokens = { admin: 'admin-token-for-the-dashboard', reader: 'reader-token-for-the-dashboard' } as const;

const db = () => testDatabase().db;
let app: FastifyInstance;
let address: string;
let browser: Browser;

beforeAll(async () => {
  // The page as the sources make it now, where the server looks for it.
  await build({ configFile: path.resolve(__dirname, '../../admin/vite.config.mts'), logLevel: 'warn' });
  await seedDatabase(db(), seedPlanFrom({}));
  // A worker's last minutes, so the overview has throughput and a worker to show.
  const claimed = await claimJobs(
    db(),
    claimJobsInput.parse({ workerId: 'demo-worker-1', limit: 4, leaseSeconds: 300 }),
  );
  for (const job of claimed.slice(0, 3))
    await completeJob(db(), { id: job.id, leaseToken: job.leaseToken, result: null });
  await failJob(
    db(),
    failJobInput.parse({
      id: claimed[3]!.id,
      leaseToken: claimed[3]!.leaseToken,
      error: 'HTTP 500',
      retryable: false,
    }),
  );
  app = await buildApp({
    db: db(),
    logger: false,
    tokens: [
      { token: tokens.admin, role: 'admin' },
      { token: tokens.reader, role: 'reader' },
    ],
    production: false,
  });
  address = await app.listen({ host: '127.0.0.1', port: 0 });
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

/** A page signed in with `role`'s token, recording whatever the content security policy blocks. */
async function signedIn(role: keyof typeof tokens): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(10_000);
  await page.addInitScript({
    content: `window.blocked = [];
      document.addEventListener('securitypolicyviolation', (event) =>
        window.blocked.push(event.violatedDirective + ' ' + event.blockedURI));`,
  });
  const loaded = await page.goto(`${address}/admin/`);
  expect(loaded?.headers()['content-security-policy']).toBe(adminContentSecurityPolicy);
  await page.getByLabel('API token').fill(tokens[role]);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('[data-testid=counts]').waitFor();
  return page;
}

const visit = async (page: Page, hash: string, ready: string) => {
  await page.goto(`${address}/admin/${hash}`);
  await page.locator(ready).first().waitFor();
};

const leaseTokens = async () =>
  (await db()('processing_jobs').whereNotNull('lease_token').pluck('lease_token')) as string[];

const countsByCell = async () =>
  Object.fromEntries(
    (
      await db()('processing_jobs')
        .groupBy('job_type', 'status')
        .select('job_type', 'status', db().raw('count(*)::int AS jobs'))
    ).map((row) => [`${row.job_type}/${row.status}`, row.jobs as number]),
  );

describe('the dashboard at /admin, in a browser', () => {
  it('shows a reader every view and lets it change nothing, never shows a lease token, and keeps the token out of localStorage', async () => {
    const page = await signedIn('reader');
    await expect.poll(() => page.locator('.role').innerText()).toBe('reader: read only');
    const counts = await countsByCell();
    for (const cell of await page.locator('[data-cell]').all()) {
      const key = (await cell.getAttribute('data-cell'))!;
      expect(Number((await cell.innerText()).replace(/,/g, '')), key).toBe(counts[key] ?? 0);
    }
    expect(await page.locator('[data-testid=workers]').innerText()).toContain('demo-worker-1');
    const leases = await leaseTokens();
    expect(leases.length).toBeGreaterThan(0);
    const showsNoLease = async () => {
      const html = await page.content();
      for (const lease of leases) expect(html).not.toContain(lease);
    };
    await showsNoLease();

    await visit(page, '#/sessions', '[data-session]');
    for (const button of await page.locator('[data-session] button').all())
      expect(await button.isDisabled()).toBe(true);

    const [running] = await db()('processing_jobs').where('status', 'running').pluck('id');
    await visit(page, `#/jobs/${running}`, '[data-testid=timeline]');
    await showsNoLease();
    expect(await page.locator('button[name=cancel]').isDisabled()).toBe(true);

    await visit(page, '#/limits', '[data-job-type]');
    expect(
      await page.locator('[data-job-type] input[name=maxRunning]').first().getAttribute('readonly'),
    ).not.toBeNull();
    for (const button of await page.locator('[data-job-type] button').all())
      expect(await button.isDisabled()).toBe(true);

    await visit(page, '#/bulk', 'form.filters');
    await page.getByRole('button', { name: 'Preview' }).click();
    const previewed = await previewBulk(db(), bulkPreviewInput.parse({ action: 'retry' }));
    await expect
      .poll(() => page.locator('[data-testid=bulk-count]').innerText())
      .toBe(String(previewed.count));
    expect(await page.locator('button[name=bulk-start]').isDisabled()).toBe(true);

    // The API rejects a reader's change whatever the page offers.
    const session = await db()('processing_sessions').where('status', 'running').first('id');
    const status = await page.evaluate(
      async ([id, token]) =>
        (
          await fetch('/api/sessions/' + id + '/pause', {
            method: 'POST',
            headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' },
            body: '{}',
          })
        ).status,
      [session!.id as string, tokens.reader],
    );
    expect(status).toBe(403);
    expect((await db()('processing_sessions').where('id', session!.id).first('status')).status).toBe(
      'running',
    );

    expect(await page.evaluate('JSON.stringify({ ...localStorage })')).not.toContain(tokens.reader);
    expect(await page.evaluate('window.blocked')).toEqual([]);
    await page.close();
  });

  it('lets an admin pause, resume and cancel a session, retry a failed job found by its video, bulk retry by error text and set a limit, each change in the database', async () => {
    const page = await signedIn('admin');
    await page.locator('[data-testid=throughput] rect').first().waitFor();
    await page.screenshot({ path: `${screenshots}/admin-overview.png` });

    const sessions = (await db()('processing_sessions')
      .where('status', 'running')
      .orderBy('id')
      .pluck('id')) as string[];
    const sessionStatus = async (id: string) =>
      (await db()('processing_sessions').where('id', id).first('status')).status;
    await visit(page, '#/sessions', '[data-session]');
    const row = page.locator(`[data-session="${sessions[0]}"]`);
    await row.locator('button[name=pause]').click();
    await expect.poll(() => sessionStatus(sessions[0]!)).toBe('paused');
    await row.locator('button[name=resume]').waitFor();
    await page.screenshot({ path: `${screenshots}/admin-sessions.png` });
    await row.locator('button[name=resume]').click();
    await expect.poll(() => sessionStatus(sessions[0]!)).toBe('running');
    const cancelled = page.locator(`[data-session="${sessions[1]}"]`);
    await cancelled.locator('button[name=cancel]').click();
    await cancelled.locator('button[name=cancel-confirm]').click();
    await expect.poll(() => sessionStatus(sessions[1]!)).toBe('failed');
    expect(
      await db()('processing_jobs').where({ session_id: sessions[1], status: 'queued' }).pluck('id'),
    ).toEqual([]);

    const failed = await db()('processing_jobs')
      .join('videos', 'videos.id', 'processing_jobs.entity_id')
      .where('processing_jobs.status', 'failed')
      .whereNot('processing_jobs.session_id', sessions[1]!)
      .first('processing_jobs.id', 'videos.youtube_video_id');
    await visit(page, '#/search', 'form.search');
    await page.locator('input[name=q]').fill(`https://www.youtube.com/watch?v=${failed.youtube_video_id}`);
    await page.getByRole('button', { name: 'Find' }).click();
    await page.locator('[data-testid=found-video]').waitFor();
    await page.locator(`a[href="#/jobs/${failed.id}"]`).click();
    await page.locator('[data-testid=timeline]').waitFor();
    await page.screenshot({ path: `${screenshots}/admin-job.png`, fullPage: true });
    await page.locator('button[name=retry]').click();
    await expect
      .poll(async () => (await db()('processing_jobs').where('id', failed.id).first('status')).status)
      .toBe('queued');
    await expect.poll(() => page.locator('[data-testid=job] .status').first().innerText()).toBe('queued');

    const filter = { sessionId: sessions[2]!, errorContains: 'disabled' };
    const expected = await previewBulk(db(), bulkPreviewInput.parse({ action: 'retry', ...filter }));
    expect(expected.count).toBeGreaterThan(0);
    await visit(page, `#/bulk?sessionId=${filter.sessionId}`, 'form.filters');
    await page.locator('input[name=errorContains]').fill(filter.errorContains);
    await page.getByRole('button', { name: 'Preview' }).click();
    await expect
      .poll(() => page.locator('[data-testid=bulk-count]').innerText())
      .toBe(String(expected.count));
    await page.locator('button[name=bulk-start]').click();
    await page.locator('button[name=bulk-confirm]').waitFor();
    await page.screenshot({ path: `${screenshots}/admin-bulk.png`, fullPage: true });
    await page.locator('button[name=bulk-confirm]').click();
    await expect
      .poll(() => page.locator('[data-testid=bulk-progress]').innerText())
      .toBe(`Done: ${expected.count} jobs queued again.`);
    expect(
      await db()('processing_jobs')
        .whereIn(
          'id',
          expected.sample.map((job) => job.id),
        )
        .distinct()
        .pluck('status'),
    ).toEqual(['queued']);
    expect((await previewBulk(db(), bulkPreviewInput.parse({ action: 'retry', ...filter }))).count).toBe(0);

    await visit(page, '#/limits', '[data-job-type]');
    const type = page.locator('[data-job-type=transcript_extraction]');
    await type.locator('input[name=maxRunning]').fill('7');
    await type.locator('button[name=set-limit]').click();
    await expect
      .poll(
        async () =>
          (await db()('job_types').where('name', 'transcript_extraction').first('max_running')).max_running,
      )
      .toBe(7);

    expect(await page.evaluate('window.blocked')).toEqual([]);
    await page.close();
  });
});
