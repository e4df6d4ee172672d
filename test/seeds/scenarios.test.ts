import { describe, expect, it } from 'vitest';
import { seedDatabase } from '../../dev/seeding/bulk-seed';
import { checkDataRules } from '../../dev/factories/data-rules';
import { seededEgress } from '../../dev/seeding/flow-control-seed';
import { seedPlanFrom } from '../../dev/seeding/seed-plan';
import { listBudgets } from '../../src/queue/budgets';
import { listRateKeys } from '../../src/queue/rate-limits';
import { jobTypeSettings } from '../../src/services/job-types';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;
const tables = ['channels', 'videos', 'transcripts', 'processing_jobs', 'processing_sessions'];

async function checksum(): Promise<string> {
  const sums = [];
  for (const table of tables) {
    const { rows } = await db().raw(
      `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) AS sum FROM ${table} t`,
    );
    sums.push(rows[0].sum as string);
  }
  return sums.join(',');
}

const one = async <T>(sql: string): Promise<T> => (await db().raw(sql)).rows[0] as T;

describe('seed scenarios', () => {
  it('spread demo videos over channels with a heavy tail, and give channels their own shape', async () => {
    await seedDatabase(db(), seedPlanFrom({ SEED_VIDEOS: '3000', SEED_CHANNELS: '30', SEED: '3' }));
    const { rows } = await db().raw<{ rows: { videos: number; shorts: number; median_views: number }[] }>(
      `SELECT count(*)::integer AS videos, avg((duration_seconds <= 60)::integer)::float AS shorts,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY view_count)::float AS median_views
         FROM videos GROUP BY channel_id ORDER BY videos DESC`,
    );
    const counts = rows.map((row) => row.videos);
    const median = counts[Math.floor(counts.length / 2)]!;
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(3_000);
    expect(counts[0]).toBeGreaterThan(5 * median);
    expect(counts.filter((n) => n < 100).length).toBeGreaterThan(counts.length / 2);
    const busy = rows.filter((row) => row.videos >= 20);
    const spread = (values: number[]) => Math.max(...values) - Math.min(...values);
    expect(spread(busy.map((row) => row.shorts))).toBeGreaterThan(0.2);
    expect(Math.max(...busy.map((row) => row.median_views))).toBeGreaterThan(
      10 * Math.min(...busy.map((row) => row.median_views)),
    );
    const languages = await db()('transcripts').distinct('language').pluck('language');
    expect(languages.some((tag: string) => tag.startsWith('en'))).toBe(true);
    expect(languages.some((tag: string) => tag.startsWith('es'))).toBe(true);
  });

  it('give the queue scenario one job in every state a worker or an admin UI must handle, as of now', async () => {
    await seedDatabase(db(), seedPlanFrom({ SEED_SCENARIO: 'queue' }));
    const states = await one<Record<string, number>>(`
      SELECT count(*) FILTER (WHERE status = 'queued' AND attempts = 0 AND run_after <= now() AND NOT held) AS due,
             count(*) FILTER (WHERE status = 'queued' AND attempts = 0 AND run_after > now()) AS scheduled,
             count(*) FILTER (WHERE status = 'running' AND lease_expires_at > now()) AS live_lease,
             count(*) FILTER (WHERE status = 'running' AND lease_expires_at < now() AND attempts < max_attempts)
               AS expired_lease,
             count(*) FILTER (WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts)
               AS expired_last_attempt,
             count(*) FILTER (WHERE status = 'queued' AND attempts > 0 AND run_after > now()) AS retry_scheduled,
             count(*) FILTER (WHERE status = 'failed') AS exhausted,
             count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
             count(*) FILTER (WHERE held) AS held
        FROM processing_jobs`);
    for (const [state, jobs] of Object.entries(states)) expect(Number(jobs), state).toBeGreaterThan(0);
    const sessions = await db()('processing_sessions').distinct('status').pluck('status');
    expect(sessions.sort()).toEqual(['failed', 'paused', 'running']);
    expect(
      Number((await one<{ n: number }>('SELECT max(length(content)) AS n FROM transcripts')).n),
    ).toBeGreaterThan(100_000);
    expect(await db()('videos').whereRaw(`title ~ '[^\\x01-\\x7e]'`).pluck('title')).toContain(
      'كيف تبدأ في التصوير الفوتوغرافي؟',
    );
    expect(await checkDataRules((sql) => db().raw(sql))).toEqual([]);
  });

  it('give the queue scenario’s paused and failed sessions their jobs, and its timed jobs their times', async () => {
    await seedDatabase(db(), seedPlanFrom({ SEED_SCENARIO: 'queue' }));
    const { rows: sessions } = await db().raw(`
      SELECT s.session_name AS session, j.status, bool_and(j.held) AS held, count(*)::integer AS jobs
        FROM processing_jobs j JOIN processing_sessions s ON s.id = j.session_id
       WHERE s.status IN ('paused', 'failed')
       GROUP BY 1, 2 ORDER BY 1, j.status::text`);
    expect(sessions).toEqual([
      { session: 'Failed nightly run', status: 'cancelled', held: false, jobs: 2 },
      { session: 'Failed nightly run', status: 'failed', held: false, jobs: 1 },
      { session: 'Paused backfill', status: 'queued', held: true, jobs: 3 },
      { session: 'Paused backfill', status: 'running', held: true, jobs: 1 },
    ]);
    // Minutes from now, rounded: when each job is due, or when its lease ran out.
    const minutesFromNow = async (column: string, where: string) =>
      (
        await db().raw(
          `SELECT round(extract(epoch FROM ${column} - now()) / 60)::integer AS m FROM processing_jobs
            WHERE ${where} ORDER BY m`,
        )
      ).rows.map((row: { m: number }) => row.m);
    // The seed's reference time is when it started, a few seconds to a minute ago.
    const within = (minutes: number[], from: number, to: number) =>
      minutes.length === 1 && minutes[0]! >= from && minutes[0]! <= to;
    const scheduled = await minutesFromNow('run_after', `metadata->>'note' = 'scheduled for later'`);
    expect(within(scheduled, 355, 360), String(scheduled)).toBe(true);
    const retry = await minutesFromNow(
      'run_after',
      `error_message = 'Request timed out after 30000 ms' AND status = 'queued'`,
    );
    expect(within(retry, 0, 2), String(retry)).toBe(true);
    const expired = await minutesFromNow(
      'lease_expires_at',
      `status = 'running' AND lease_expires_at < now()`,
    );
    expect(expired).toHaveLength(2);
    // Leases last 15 minutes and these started about half an hour before the seed's reference time.
    for (const minutes of expired) expect(minutes >= -20 && minutes <= -14, String(expired)).toBe(true);
  });

  it("show the queue's flow control: the Data API's daily budget, start rates, and a job deferred by a rate limit", async () => {
    await seedDatabase(db(), seedPlanFrom({ SEED_SCENARIO: 'queue' }));
    const [budget] = await listBudgets(db());
    expect(budget).toMatchObject({
      name: 'youtube-data-api',
      capacity: 10_000,
      timeZone: 'America/Los_Angeles',
    });
    expect(budget!.used % 3).toBe(0);
    expect(await jobTypeSettings(db(), 'channel_discovery')).toMatchObject({
      budget: 'youtube-data-api',
      budgetCost: 3,
    });
    expect(await jobTypeSettings(db(), 'transcript_extraction')).toMatchObject({
      maxStarts: 30,
      perSeconds: 60,
    });
    const deferred = await db()('processing_jobs').where('wait_reason', 'rate_limited');
    expect(deferred).toHaveLength(1);
    const keys = (await listRateKeys(db(), { limit: 10 })).items;
    expect(keys.find((key) => key.key === seededEgress)).toMatchObject({ maxStarts: 10, perSeconds: 60 });
    expect(keys.find((key) => key.key === deferred[0].rate_key)).toMatchObject({
      rateLimitedInARow: 1,
      cooldownUntil: deferred[0].run_after,
    });
    await seedDatabase(db(), seedPlanFrom({ SEED_SCENARIO: 'load', SEED_VIDEOS: '100' }));
    expect(await listBudgets(db())).toEqual([]);
    expect((await listRateKeys(db(), { limit: 10 })).items).toEqual([]);
  });

  it('add to the data in the additive mode, deterministically for the same seed and the same data', async () => {
    const twice = async () => {
      await seedDatabase(db(), seedPlanFrom({ SEED_VIDEOS: '300', SEED: '4' }));
      await seedDatabase(db(), seedPlanFrom({ SEED_VIDEOS: '200', SEED: '4', SEED_MODE: 'add' }));
      return checksum();
    };
    const first = await twice();
    expect(Number((await one<{ n: number }>('SELECT count(*) AS n FROM videos')).n)).toBe(500);
    expect(await checkDataRules((sql) => db().raw(sql))).toEqual([]);
    expect(await twice()).toBe(first);
  });

  it('write nothing in a dry run, and count exactly what a real run writes', async () => {
    await seedDatabase(db(), seedPlanFrom({ SEED_VIDEOS: '100', SEED: '9' }));
    const before = await checksum();
    const plan = seedPlanFrom({ SEED_VIDEOS: '400', SEED: '8', SEED_SCENARIO: 'queue' });
    const dry = await seedDatabase(db(), { ...plan, dryRun: true });
    expect(await checksum()).toBe(before);
    const real = await seedDatabase(db(), plan);
    expect(dry.rows).toEqual(real.rows);
  });

  it('read the scenario, mode and reference date from the environment, and name a bad one', () => {
    const now = new Date('2026-12-02T10:11:12.345Z');
    expect(seedPlanFrom({}, now)).toMatchObject({
      scenario: 'demo',
      videos: 1_000,
      mode: 'replace',
      dryRun: false,
    });
    expect(seedPlanFrom({ SEED_SCENARIO: 'queue' }, now)).toMatchObject({
      videos: 200,
      channels: 6,
      referenceDate: new Date('2026-12-02T10:11:00.000Z'),
    });
    expect(seedPlanFrom({ SEED_SCENARIO: 'load' }, now)).toMatchObject({
      videos: 1_000_000,
      channels: 1_000,
    });
    // One channel per 1,000 videos, at least 30: at that edge and one video past it.
    expect(seedPlanFrom({ SEED_VIDEOS: '30000' }, now).channels).toBe(30);
    expect(seedPlanFrom({ SEED_VIDEOS: '30001' }, now).channels).toBe(31);
    expect(seedPlanFrom({ SEED_DRY_RUN: 'true', SEED_MODE: 'add' }, now)).toMatchObject({
      dryRun: true,
      mode: 'add',
    });
    expect(() => seedPlanFrom({ SEED_SCENARIO: 'huge' })).toThrow(/SEED_SCENARIO/);
    expect(() => seedPlanFrom({ SEED_REFERENCE_DATE: 'yesterday' })).toThrow(/SEED_REFERENCE_DATE/);
    expect(seedPlanFrom({ NODE_ENV: 'production', SEED_MODE: 'add' }, now).mode).toBe('add');
  });
});
