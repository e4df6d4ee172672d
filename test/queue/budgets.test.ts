import request from 'supertest';
import type { Knex } from 'knex';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect';
import type { Budget } from '../../src/schemas/budget';
import type { JobTypeSettings, ProcessingJob } from '../../src/schemas/processing-job';
import { listBudgets, setBudget, setJobTypeCost } from '../../src/queue/budgets';
import { completeJob, failJob, releaseJob, snoozeJob } from '../../src/queue/job-queue';
import { useApi } from '../support/api';
import { testDatabase, testPoolSettings } from '../support/database';
import { after, at, claimAt, queuedDiscoveries, resetFlowControl } from '../support/flow-control';

const db = () => testDatabase().db;
const api = useApi();

beforeEach(() => resetFlowControl(db()));

/** The YouTube Data API's shape: units per day in Los Angeles, each discovery spending `cost`. */
async function dailyBudget(capacity: number, cost: number): Promise<void> {
  await setBudget(db(), { name: 'youtube-data-api', capacity, timeZone: 'America/Los_Angeles' });
  await setJobTypeCost(db(), { jobType: 'channel_discovery', budget: 'youtube-data-api', units: cost });
}

const budgetAt = async (clock: Date) => (await listBudgets(db(), clock))[0]!;
const attemptsOf = async (ids: string[]) =>
  (await db()('processing_jobs').whereIn('id', ids).pluck<number[]>('attempts')).sort();

describe('a budget per calendar day', () => {
  it('hands out only the work it covers; the rest waits for local midnight, 23 hours on the day the clocks go forward', async () => {
    const jobs = await queuedDiscoveries(5);
    await dailyBudget(10, 3);
    const morning = at('2026-03-08T10:00:00-08:00');
    expect(await claimAt(db(), morning)).toHaveLength(3);
    expect(await claimAt(db(), morning)).toEqual([]);
    expect(await budgetAt(morning)).toMatchObject({
      used: 9,
      left: 1,
      windowStartsAt: at('2026-03-08T00:00:00-08:00'),
      resetsAt: at('2026-03-09T00:00:00-07:00'),
      exhaustedUntil: null,
    });
    const midnight = at('2026-03-09T07:00:00Z');
    expect(await claimAt(db(), after(midnight, -0.001))).toEqual([]);
    const waiting = jobs.map((job) => job.id);
    expect((await attemptsOf(waiting)).filter((attempts) => attempts === 0)).toHaveLength(2);
    expect(await claimAt(db(), midnight)).toHaveLength(2);
    expect(await budgetAt(midnight)).toMatchObject({ used: 6, left: 4, windowStartsAt: midnight });
  });

  it('lasts 25 hours on the day the clocks go back, and starts again at its local midnight', async () => {
    await queuedDiscoveries(4);
    await dailyBudget(2, 1);
    const dayStart = at('2026-11-01T00:00:00-07:00');
    expect(await claimAt(db(), dayStart)).toHaveLength(2);
    const lastMoment = at('2026-11-01T23:59:59.999-08:00');
    expect(await budgetAt(lastMoment)).toMatchObject({
      used: 2,
      left: 0,
      windowStartsAt: dayStart,
      resetsAt: at('2026-11-02T00:00:00-08:00'),
    });
    expect((at('2026-11-02T00:00:00-08:00').getTime() - dayStart.getTime()) / 3_600_000).toBe(25);
    expect(await claimAt(db(), lastMoment)).toEqual([]);
    expect(await claimAt(db(), at('2026-11-02T00:00:00-08:00'))).toHaveLength(2);
  });

  it('forgets spends of past windows as claims go', async () => {
    await queuedDiscoveries(2);
    await dailyBudget(5, 1);
    await claimAt(db(), at('2026-03-08T10:00:00-08:00'), 1);
    expect(await db()('quota_spends').count<{ count: number }[]>({ count: '*' })).toEqual([{ count: 1 }]);
    await claimAt(db(), at('2026-03-10T10:00:00-07:00'), 1);
    expect(await db()('quota_spends').pluck('spent_at')).toEqual([at('2026-03-10T10:00:00-07:00')]);
  });
});

describe('a rolling budget', () => {
  it("counts each spend for exactly its window, and says when the oldest one's units come back", async () => {
    await queuedDiscoveries(5);
    await setBudget(db(), { name: 'search', capacity: 2, windowSeconds: 60 });
    await setJobTypeCost(db(), { jobType: 'channel_discovery', budget: 'search', units: 1 });
    const start = at('2026-06-01T12:00:00Z');
    expect(await claimAt(db(), start, 1)).toHaveLength(1);
    expect(await claimAt(db(), after(start, 30), 5)).toHaveLength(1);
    expect(await listBudgets(db(), after(start, 59.999))).toMatchObject([
      { used: 2, left: 0, resetsAt: after(start, 60), windowStartsAt: after(start, -0.001) },
    ]);
    expect(await claimAt(db(), after(start, 59.999), 5)).toEqual([]);
    expect(await claimAt(db(), after(start, 60), 5)).toHaveLength(1);
    expect(await listBudgets(db(), after(start, 60))).toMatchObject([
      { used: 2, left: 0, resetsAt: after(start, 90) },
    ]);
    expect(await listBudgets(db(), after(start, 200))).toMatchObject([{ used: 0, left: 2, resetsAt: null }]);
  });
});

describe('what a worker reports', () => {
  it('replaces the cost its claim counted, on completion and on failure', async () => {
    await queuedDiscoveries(2);
    await dailyBudget(100, 10);
    const now = at('2026-06-01T12:00:00-07:00');
    const [first, second] = await claimAt(db(), now);
    await completeJob(db(), { id: first!.id, leaseToken: first!.leaseToken, result: null, unitsSpent: 3 });
    expect(await budgetAt(now)).toMatchObject({ used: 13, left: 87 });
    await failJob(db(), {
      id: second!.id,
      leaseToken: second!.leaseToken,
      error: 'boom',
      retryable: true,
      unitsSpent: 0,
    });
    expect(await budgetAt(now)).toMatchObject({ used: 3, left: 97 });
  });

  it('leaves none of the budget, and never less, when it spent more than the budget held', async () => {
    await queuedDiscoveries(1);
    await dailyBudget(10, 5);
    const now = at('2026-06-01T12:00:00-07:00');
    const [job] = await claimAt(db(), now);
    await completeJob(db(), { id: job!.id, leaseToken: job!.leaseToken, result: null, unitsSpent: 25 });
    expect(await budgetAt(now)).toMatchObject({ used: 25, left: 0 });
  });

  it('gives back the units of a released job, and keeps those of a snoozed one unless it reports others', async () => {
    await queuedDiscoveries(3);
    await dailyBudget(100, 10);
    const now = at('2026-06-01T12:00:00-07:00');
    const [released, snoozed, reported] = await claimAt(db(), now);
    await releaseJob(db(), { id: released!.id, leaseToken: released!.leaseToken });
    expect(await budgetAt(now)).toMatchObject({ used: 20 });
    await snoozeJob(db(), { id: snoozed!.id, leaseToken: snoozed!.leaseToken, delaySeconds: 60 });
    await snoozeJob(db(), {
      id: reported!.id,
      leaseToken: reported!.leaseToken,
      delaySeconds: 60,
      unitsSpent: 1,
    });
    expect(await budgetAt(now)).toMatchObject({ used: 11, left: 89 });
  });
});

describe('a budget a worker reports exhausted', () => {
  it('is spent until its reset, and its job waits there with its attempt unspent', async () => {
    await queuedDiscoveries(2);
    await dailyBudget(100, 1);
    const now = at('2026-03-08T10:00:00-08:00');
    const [job] = await claimAt(db(), now, 1);
    const reset = at('2026-03-09T00:00:00-07:00');
    const deferred = await failJob(
      db(),
      {
        id: job!.id,
        leaseToken: job!.leaseToken,
        error: '403 quotaExceeded',
        retryable: true,
        kind: 'quota_exhausted',
      },
      now,
    );
    expect(deferred).toMatchObject({
      status: 'queued',
      attempts: 0,
      runAfter: reset,
      waitReason: 'quota_exhausted',
      waitDetail: '403 quotaExceeded',
      errorMessage: null,
    });
    expect(await budgetAt(now)).toMatchObject({ used: 1, left: 0, exhaustedUntil: reset });
    expect(await claimAt(db(), after(reset, -0.001))).toEqual([]);
    expect(await budgetAt(reset)).toMatchObject({ used: 0, left: 100, exhaustedUntil: null });
    const claimed = await claimAt(db(), reset);
    expect(claimed.map((j) => j.id)).toContain(job!.id);
    expect(claimed.find((j) => j.id === job!.id)).toMatchObject({ attempts: 1, waitReason: null });
  });

  it('is cleared when an admin sets the budget again', async () => {
    await queuedDiscoveries(1);
    await dailyBudget(100, 1);
    const now = at('2026-03-08T10:00:00-08:00');
    await db()('quota_budgets').update({ exhausted_until: at('2026-03-09T00:00:00-07:00') });
    expect(await claimAt(db(), now)).toEqual([]);
    await dailyBudget(100, 1);
    expect(await claimAt(db(), now)).toHaveLength(1);
  });

  it('is rejected for a type that spends no budget, and the job stays with its worker', async () => {
    await queuedDiscoveries(1);
    const [job] = await claimAt(db(), undefined);
    const lease = { id: job!.id, leaseToken: job!.leaseToken };
    const rejected = await api.mutate('jobs.fail', {
      ...lease,
      error: 'quotaExceeded',
      kind: 'quota_exhausted',
    });
    expect(rejected.status).toBe(400);
    expect(rejected.error?.data.field).toBe('kind');
    expect((await api.mutate<ProcessingJob>('jobs.complete', { ...lease, result: null })).data.status).toBe(
      'completed',
    );
  });
});

describe('budgets over the API', () => {
  it('lists each budget for readers, and sets one for admins over tRPC and REST', async () => {
    const set = await api.mutate<Budget>('budgets.set', {
      name: 'youtube-data-api',
      capacity: 10_000,
      timeZone: 'America/Los_Angeles',
    });
    expect(set.status).toBe(200);
    expect(set.data).toMatchObject({ name: 'youtube-data-api', capacity: 10_000, used: 0, left: 10_000 });
    const rest = await request(api.app.server)
      .put('/api/budgets/search')
      .send({ capacity: 100, windowSeconds: 100 });
    expect(rest.status).toBe(200);
    expect(rest.body).toMatchObject({
      name: 'search',
      capacity: 100,
      windowSeconds: 100,
      timeZone: null,
      resetsAt: null,
    });
    const listed = await api.query<Budget[]>('budgets.list');
    expect(listed.data.map((budget) => [budget.name, budget.left])).toEqual([
      ['search', 100],
      ['youtube-data-api', 10_000],
    ]);
    const cost = await api.mutate<JobTypeSettings>('jobs.setTypeCost', {
      jobType: 'channel_discovery',
      budget: 'youtube-data-api',
      units: 100,
    });
    expect(cost.data).toMatchObject({ budget: 'youtube-data-api', budgetCost: 100 });
    const none = await request(api.app.server)
      .put('/api/job-types/channel_discovery/cost')
      .send({ budget: null });
    expect(none.body).toMatchObject({ budget: null, budgetCost: null });
  });

  it('rejects a budget or a cost it could not keep, naming the field', async () => {
    for (const [input, field] of [
      [{ name: 'yt', capacity: 1 }, 'timeZone'],
      [{ name: 'yt', capacity: 1, timeZone: 'UTC', windowSeconds: 60 }, 'timeZone'],
      [{ name: 'yt', capacity: 1, timeZone: 'Mars/Olympus_Mons' }, 'timeZone'],
      [{ name: 'yt', capacity: 1, timeZone: '+01:00' }, 'timeZone'],
      [{ name: 'yt', capacity: 1, windowSeconds: 86_401 }, 'windowSeconds'],
      [{ name: 'yt', capacity: -1, windowSeconds: 60 }, 'capacity'],
      [{ name: 'YouTube', capacity: 1, windowSeconds: 60 }, 'name'],
    ] as const) {
      const rejected = await api.mutate('budgets.set', input);
      expect(rejected.status, JSON.stringify(input)).toBe(400);
      expect(rejected.error?.data.field, JSON.stringify(input)).toBe(field);
    }
    expect((await api.mutate('budgets.set', { name: 'yt', capacity: 1, windowSeconds: 86_400 })).status).toBe(
      200,
    );
    for (const [input, field] of [
      [{ jobType: 'channel_discovery', budget: 'missing', units: 1 }, 'budget'],
      [{ jobType: 'channel_discovery', budget: 'yt' }, 'units'],
      [{ jobType: 'channel_discovery', budget: null, units: 1 }, 'units'],
      [{ jobType: 'channel_discovery', budget: 'yt', units: 0 }, 'units'],
    ] as const) {
      const rejected = await api.mutate('jobs.setTypeCost', input);
      expect(rejected.status, JSON.stringify(input)).toBe(400);
      expect(rejected.error?.data.field, JSON.stringify(input)).toBe(field);
      // A budget that is not there is named.
      if (input.budget === 'missing')
        expect(rejected.error?.message).toContain('budget missing does not exist');
    }
  });
});

describe('a budget under 16 concurrent claimers', () => {
  const claimers = 16;
  let pool: Knex;

  // One connection per claimer, so the claims really run side by side in PostgreSQL.
  beforeAll(() => {
    pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: claimers + 4 });
  });
  afterAll(() => pool.destroy());

  it('spends exactly its capacity and hands out exactly the jobs it pays for', async () => {
    const capacity = 37;
    await queuedDiscoveries(120);
    await dailyBudget(capacity, 1);
    const claimed: string[] = [];
    const claimer = async () => {
      for (;;) {
        const jobs = await claimAt(pool, undefined, 3);
        if (jobs.length === 0) return;
        claimed.push(...jobs.map((job) => job.id));
      }
    };
    await Promise.all(Array.from({ length: claimers }, claimer));
    expect(claimed).toHaveLength(capacity);
    expect(new Set(claimed).size).toBe(capacity);
    const [spent] = await db()('quota_spends').sum<{ units: number }[]>({ units: 'units' });
    expect(Number(spent!.units)).toBe(capacity);
    expect((await listBudgets(db()))[0]).toMatchObject({ used: capacity, left: 0 });
  });
});
