import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import request from 'supertest';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { connect } from '../../src/db/connect';
import { channelFactory, processingJobFactory, videoFactory } from '../../dev/factories';
import { foldJobCountsAbove, readJobCounts } from '../../src/queue/job-counts';
import { claimJobsInput } from '../../src/schemas/processing-job';
import { claimJobs, completeJob, failJob, releaseJob } from '../../src/queue/job-queue';
import { pruneFinishedJobs } from '../../src/queue/schedules';
import { workerMetrics } from '../../src/worker/metrics';
import { budgetsLeft } from '../../src/http/metrics';
import { setBudget } from '../../src/queue/budgets';
import { setBudgetInput } from '../../src/schemas/budget';
import { mutate, query } from '../support/api';
import { testDatabase, testPoolSettings } from '../support/database';

const db = () => testDatabase().db;
const token = 'metrics-token-of-the-test-file';
let app: FastifyInstance;

beforeAll(async () => {
  app = await buildApp({ db: db(), logger: false, tokens: [], production: false, metrics: { token } });
  await app.ready();
});
afterAll(() => app.close());

// The counts cover every job of the database: each test starts from none.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

const scrape = async () => {
  const response = await request(app.server).get('/metrics').set('authorization', `Bearer ${token}`);
  expect(response.status).toBe(200);
  expect(response.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text;
};

/** One sample's value from Prometheus' text format: the series named, with exactly these labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const given = (match[2] ?? '')
      .split(/,(?=[a-z_]+=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    if (given === wanted) return Number(match[3]);
  }
  return undefined;
}

/** Jobs by type and status, counted the slow way, to hold the kept counts to. */
async function countedRows(): Promise<Record<string, number>> {
  const rows = await db()('processing_jobs')
    .groupBy('job_type', 'status')
    .select<{ job_type: string; status: string; n: number }[]>(
      'job_type',
      'status',
      db().raw('count(*)::int AS n'),
    );
  return Object.fromEntries(rows.map((row) => [`${row.job_type}/${row.status}`, row.n]));
}

async function keptCounts(): Promise<Record<string, number>> {
  const counts = await readJobCounts(db());
  return Object.fromEntries(
    counts
      .filter((count) => count.jobs !== 0)
      .map((count) => [`${count.jobType}/${count.status}`, count.jobs]),
  );
}

const claimOne = async (workerId = 'w') =>
  (await claimJobs(db(), claimJobsInput.parse({ workerId, limit: 1, leaseSeconds: 60 })))[0]!;

describe('/metrics', () => {
  it('serves jobs by type and status in Prometheus’ text format, every known series from zero', async () => {
    await processingJobFactory.createList(3);
    await processingJobFactory.trait('completed').createList(2);
    await processingJobFactory.trait('discovery').trait('exhausted').create();

    const text = await scrape();
    expect(sample(text, 'tubesensei_jobs', { job_type: 'transcript_extraction', status: 'queued' })).toBe(3);
    expect(sample(text, 'tubesensei_jobs', { job_type: 'transcript_extraction', status: 'completed' })).toBe(
      2,
    );
    expect(sample(text, 'tubesensei_jobs', { job_type: 'channel_discovery', status: 'failed' })).toBe(1);
    expect(sample(text, 'tubesensei_jobs', { job_type: 'channel_discovery', status: 'running' })).toBe(0);
    expect(text).toContain('# TYPE tubesensei_jobs gauge');
  });

  it('keeps the counts equal to the rows through enqueues, claims, completions, retries, failures, releases, cancels, prunes, deletes and a truncate', async () => {
    const steps: [string, () => Promise<unknown>][] = [
      ['create', () => processingJobFactory.createList(4)],
      ['create discoveries', () => processingJobFactory.trait('discovery').createList(2)],
      ['claim', () => claimOne()],
      [
        'complete',
        async () => {
          const job = await claimOne();
          await completeJob(db(), { id: job.id, leaseToken: job.leaseToken });
        },
      ],
      [
        'retry',
        async () => {
          const job = await claimOne();
          await failJob(db(), {
            id: job.id,
            leaseToken: job.leaseToken,
            error: 'timed out',
            retryable: true,
          });
        },
      ],
      [
        'fail for good',
        async () => {
          const job = await claimOne();
          await failJob(db(), { id: job.id, leaseToken: job.leaseToken, error: 'gone', retryable: false });
        },
      ],
      [
        'release',
        async () => {
          const job = await claimOne();
          await releaseJob(db(), { id: job.id, leaseToken: job.leaseToken });
        },
      ],
      [
        'cancel',
        async () => {
          const [job] = await db()('processing_jobs').where({ status: 'queued' }).limit(1);
          expect((await mutate(app, 'jobs.cancel', { id: job.id })).status).toBe(200);
        },
      ],
      ['prune', () => pruneFinishedJobs(db(), new Date(Date.now() + 60_000), 100)],
      [
        'delete a video with its jobs',
        async () => {
          const video = await videoFactory.create();
          await processingJobFactory.create({ entityId: video.id });
          await db()('videos').where({ id: video.id }).delete();
        },
      ],
      ['truncate', () => db().raw('TRUNCATE processing_jobs')],
      ['create after the truncate', () => processingJobFactory.trait('running').createList(2)],
    ];
    for (const [name, step] of steps) {
      await step();
      expect(await keptCounts(), name).toEqual(await countedRows());
    }
  });

  it('folds the counts’ delta rows into one per type and status once there are many, and the counts stay the same', async () => {
    await processingJobFactory.createList(2);
    // Many statements' worth of deltas that cancel out, as a busy queue leaves between two scrapes.
    await db().raw(
      `INSERT INTO processing_job_counts (job_type, status, jobs, lease_expiries)
       SELECT 'transcript_extraction', 'running', CASE WHEN i % 2 = 0 THEN 1 ELSE -1 END, 0
         FROM generate_series(1, ?) AS i`,
      [foldJobCountsAbove + 2],
    );
    const before = await keptCounts();
    await scrape();
    expect(Number((await db()('processing_job_counts').count())[0]!.count)).toBeLessThanOrEqual(3);
    expect(await keptCounts()).toEqual(before);
    expect(before).toEqual(await countedRows());
  });

  it('counts a lease that expired, as a claim takes the job over or fails it on its last attempt', async () => {
    const again = await processingJobFactory.create({ maxAttempts: 2 });
    const last = await processingJobFactory.create({ maxAttempts: 1 });
    await claimJobs(db(), claimJobsInput.parse({ workerId: 'lost', limit: 2 }));
    await db()('processing_jobs').update({ lease_expires_at: new Date(Date.now() - 1_000) });
    const expiries = (text: string, outcome: string, jobType = 'transcript_extraction') =>
      sample(text, 'tubesensei_job_lease_expiries_total', { job_type: jobType, outcome })!;
    const before = await scrape();

    const [takenOver] = await claimJobs(db(), claimJobsInput.parse({ workerId: 'next', limit: 2 }));
    expect(takenOver!.id).toBe(again.id);
    expect(await db()('processing_jobs').where({ id: last.id }).first()).toMatchObject({ status: 'failed' });

    const after = await scrape();
    expect(expiries(after, 'reclaimed') - expiries(before, 'reclaimed')).toBe(1);
    expect(expiries(after, 'failed') - expiries(before, 'failed')).toBe(1);
    expect(expiries(after, 'failed', 'channel_discovery')).toBe(
      expiries(before, 'failed', 'channel_discovery'),
    );
  });

  it('counts what workers do through the API per type, with the wait before the start and the run', async () => {
    const channel = await channelFactory.create();
    const failing = await processingJobFactory.trait('discovery').create();
    const before = await scrape();
    const enqueued = await mutate<{ id: string }>(app, 'jobs.enqueue', {
      jobType: 'channel_discovery',
      entityType: 'channel',
      entityId: channel.id,
    });
    expect(enqueued.status).toBe(200);

    const claimed = await mutate<{ id: string; leaseToken: string }[]>(app, 'jobs.claim', {
      workerId: 'w',
      limit: 2,
    });
    const byId = new Map(claimed.data.map((job) => [job.id, job]));
    await mutate(app, 'jobs.complete', {
      id: enqueued.data.id,
      leaseToken: byId.get(enqueued.data.id)!.leaseToken,
    });
    await mutate(app, 'jobs.fail', {
      id: failing.id,
      leaseToken: byId.get(failing.id)!.leaseToken,
      error: 'boom',
    });

    const after = await scrape();
    const added = (name: string, labels: Record<string, string> = {}) =>
      (sample(after, name, { job_type: 'channel_discovery', ...labels }) ?? 0) -
      (sample(before, name, { job_type: 'channel_discovery', ...labels }) ?? 0);
    expect(added('tubesensei_job_enqueues_total')).toBe(1);
    expect(added('tubesensei_job_claims_total')).toBe(2);
    expect(added('tubesensei_job_completions_total')).toBe(1);
    expect(added('tubesensei_job_failures_total', { final: 'false' })).toBe(1);
    expect(added('tubesensei_job_failures_total', { final: 'true' })).toBe(0);
    expect(added('tubesensei_job_start_delay_seconds_count')).toBe(2);
    expect(added('tubesensei_job_run_seconds_count', { outcome: 'completed' })).toBe(1);
    expect(added('tubesensei_job_run_seconds_count', { outcome: 'retried' })).toBe(1);
  });

  it("observes a job's wait before its first start only, counted from the time it was due, and its run from its claim", async () => {
    const dueAgo = 600;
    const job = await processingJobFactory
      .trait('discovery')
      .create({ runAfter: new Date(Date.now() - dueAgo * 1_000) });
    // Created long before it was due, so a run or a wait counted from its creation would show it.
    await db()('processing_jobs')
      .where({ id: job.id })
      .update({ created_at: new Date(Date.now() - 3_600_000) });
    const waited = (text: string, part: 'sum' | 'count') =>
      sample(text, `tubesensei_job_start_delay_seconds_${part}`, { job_type: 'channel_discovery' }) ?? 0;
    const claimOne = async () =>
      (await mutate<{ id: string; leaseToken: string }[]>(app, 'jobs.claim', { workerId: 'w', limit: 1 }))
        .data;
    const before = await scrape();
    const [first] = await claimOne();
    const afterFirst = await scrape();
    expect(waited(afterFirst, 'count') - waited(before, 'count')).toBe(1);
    expect(waited(afterFirst, 'sum') - waited(before, 'sum')).toBeGreaterThanOrEqual(dueAgo);
    expect(waited(afterFirst, 'sum') - waited(before, 'sum')).toBeLessThan(dueAgo + 60);

    await mutate(app, 'jobs.fail', { id: job.id, leaseToken: first!.leaseToken, error: 'flaky' });
    await db()('processing_jobs').where({ id: job.id }).update({ run_after: new Date() });
    const [second] = await claimOne();
    expect(second!.id).toBe(job.id);
    const afterSecond = await scrape();
    expect(waited(afterSecond, 'count')).toBe(waited(afterFirst, 'count'));

    await mutate(app, 'jobs.complete', { id: job.id, leaseToken: second!.leaseToken });
    const ran = (text: string) =>
      sample(text, 'tubesensei_job_run_seconds_sum', {
        job_type: 'channel_discovery',
        outcome: 'completed',
      }) ?? 0;
    expect(ran(await scrape()) - ran(afterSecond)).toBeLessThan(60);
  });

  it('times a request in seconds, no longer than its caller waited for it', async () => {
    const labels = { method: 'GET', route: '/trpc/:path', status_code: '200' };
    const seconds = (text: string) =>
      sample(text, 'tubesensei_http_request_duration_seconds_sum', labels) ?? 0;
    const count = (text: string) =>
      sample(text, 'tubesensei_http_request_duration_seconds_count', labels) ?? 0;
    const before = await scrape();
    const sentAt = performance.now();
    await query(app, 'channels.list', { limit: 5 });
    const waitedSeconds = (performance.now() - sentAt) / 1_000;
    const after = await scrape();
    expect(count(after) - count(before)).toBe(1);
    expect(seconds(after) - seconds(before)).toBeGreaterThan(0);
    expect(seconds(after) - seconds(before)).toBeLessThanOrEqual(waitedSeconds);
  });

  it('times procedure calls by procedure and status, and requests by route, the database pool and the event loop beside them', async () => {
    await query(app, 'channels.list', { limit: 5 });
    await query(app, 'channels.list', { limit: 'five' });
    const text = await scrape();
    const list = (status: string) =>
      sample(text, 'tubesensei_procedure_duration_seconds_count', { procedure: 'channels.list', status });
    expect(list('200')).toBeGreaterThanOrEqual(1);
    expect(list('400')).toBeGreaterThanOrEqual(1);
    expect(
      sample(text, 'tubesensei_http_request_duration_seconds_count', {
        method: 'GET',
        route: '/trpc/:path',
        status_code: '400',
      }),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'tubesensei_db_pool_max')).toBe(testPoolSettings.DATABASE_POOL_SIZE);
    expect(sample(text, 'tubesensei_db_pool_waiting')).toBe(0);
    // The scrape read the job counts through the pool and gave the connection back before it was collected.
    expect(sample(text, 'tubesensei_db_pool_connections', { state: 'used' })).toBe(0);
    expect(sample(text, 'tubesensei_db_pool_connections', { state: 'free' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  });

  it('times a request no route matches under route="unmatched", so unknown paths add no series of their own', async () => {
    const paths = ['/no-such-page', '/no-such-page-either?id=1'];
    for (const path of paths) expect((await request(app.server).get(path)).status).toBe(404);
    const text = await scrape();
    const unmatched = { method: 'GET', route: 'unmatched', status_code: '404' };
    expect(sample(text, 'tubesensei_http_request_duration_seconds_count', unmatched)).toBeGreaterThanOrEqual(
      2,
    );
    expect(text).not.toContain('no-such-page');
  });

  it('responds with 401 without the token or with another, and names the header it wants', async () => {
    const none = await request(app.server).get('/metrics');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    const wrong = await request(app.server).get('/metrics').set('authorization', `Bearer ${token}x`);
    expect(wrong.status).toBe(401);
    expect(wrong.text).not.toContain('tubesensei_jobs');
  });

  it('is open without a token, and served only when the app is asked to', async () => {
    const open = await buildApp({ db: db(), logger: false, tokens: [], production: false, metrics: {} });
    const without = await buildApp({ db: db(), logger: false, tokens: [], production: false });
    await Promise.all([open.ready(), without.ready()]);
    try {
      expect((await request(open.server).get('/metrics')).status).toBe(200);
      expect((await request(without.server).get('/metrics')).status).toBe(404);
    } finally {
      await open.close();
      await without.close();
    }
  });

  it('still serves the process’s own metrics while the database does not respond, leaving the job counts out', async () => {
    const unreachable = connect('postgres://postgres@127.0.0.1:1/nothing', {
      ...testPoolSettings,
      DATABASE_CONNECT_TIMEOUT_MS: 500,
    });
    const lost = await buildApp({
      db: unreachable,
      logger: false,
      tokens: [],
      production: false,
      metrics: {},
    });
    await lost.ready();
    try {
      const response = await request(lost.server).get('/metrics');
      expect(response.status).toBe(200);
      expect(response.text).toContain('nodejs_eventloop_lag_seconds');
      expect(
        sample(response.text, 'tubesensei_jobs', { job_type: 'channel_discovery', status: 'queued' }),
      ).toBe(undefined);
    } finally {
      await lost.close();
      await unreachable.destroy();
    }
  });

  it('leaves out the job counts it served before once the database stops responding, rather than serve them stale', async () => {
    const own = connect(testDatabase().url, testPoolSettings);
    const served = await buildApp({ db: own, logger: false, tokens: [], production: false, metrics: {} });
    await served.ready();
    const queued = (text: string) =>
      sample(text, 'tubesensei_jobs', { job_type: 'channel_discovery', status: 'queued' });
    try {
      await processingJobFactory.trait('discovery').create();
      expect(queued((await request(served.server).get('/metrics')).text)).toBe(1);
      await own.destroy();
      const response = await request(served.server).get('/metrics');
      expect(response.status).toBe(200);
      expect(queued(response.text)).toBe(undefined);
    } finally {
      await served.close();
      await own.destroy();
    }
  });

  it('publishes the units left in each of the queue’s budgets, and its docs name every metric served, and the dashboard only those', async () => {
    const withBudgets = await buildApp({
      db: db(),
      logger: false,
      tokens: [],
      production: false,
      metrics: { budgets: budgetsLeft },
    });
    await withBudgets.ready();
    await setBudget(
      db(),
      setBudgetInput.parse({ name: 'youtube-data-api', capacity: 9_000, timeZone: 'UTC' }),
    );
    let text: string;
    try {
      text = (await request(withBudgets.server).get('/metrics')).text;
    } finally {
      await withBudgets.close();
    }
    expect(sample(text, 'tubesensei_budget_units_left', { budget: 'youtube-data-api' })).toBe(9_000);

    const served = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]!));
    const worker = new Registry();
    workerMetrics(worker);
    for (const metric of worker.getMetricsAsArray()) served.add(metric.name);
    const ours = [...served].filter((name) => name.startsWith('tubesensei_'));
    const docs = readFileSync(path.join(__dirname, '../../docs/metrics.md'), 'utf8');
    for (const name of ours) expect(docs, name).toContain(`\`${name}\``);
    const named = (source: string) =>
      [...source.matchAll(/\b((?:tubesensei|nodejs|process)_[a-z0-9_]+)/g)].map((match) =>
        match[1]!.replace(/_(bucket|count|sum)$/, ''),
      );
    for (const name of named(docs)) expect(served, `docs name ${name}`).toContain(name);
    const dashboard = JSON.parse(
      readFileSync(path.join(__dirname, '../../docs/grafana/tubesensei.json'), 'utf8'),
    ) as { panels: { targets?: { expr: string }[] }[] };
    const queries = dashboard.panels.flatMap((panel) => panel.targets ?? []).map((target) => target.expr);
    expect(queries.length).toBeGreaterThan(20);
    for (const name of named(queries.join('\n')))
      expect(served, `the dashboard queries ${name}`).toContain(name);
  });
});
