import { randomUUID } from 'node:crypto';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import {
  type ClaimedJob,
  type Deferral,
  QuotaExhaustedError,
  RateLimitedError,
  PermanentJobError,
  SnoozeJob,
  type Task,
} from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { outcomeOfError } from '../../src/worker/policies';
import { channelFactory, videoFactory } from '../../dev/factories';
import { setBudget, setJobTypeCost } from '../../src/queue/budgets';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';
import { resetFlowControl } from '../support/flow-control';
import { until } from '../support/until';
import { discoveryJobs, jobRow, jobRows, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
beforeEach(() => resetFlowControl(testDatabase().db));

const seconds = (n: number) => n * 1_000;

/** A budget the discovery jobs spend `cost` units of at each start. */
async function discoveriesSpend(cost: number) {
  const db = testDatabase().db;
  await setBudget(db, { name: 'youtube-data-api', capacity: 10_000, timeZone: 'America/Los_Angeles' });
  await setJobTypeCost(db, { jobType: 'channel_discovery', budget: 'youtube-data-api', units: cost });
}

/**
 * Runs the queued discovery jobs through one worker until each has an outcome the API acknowledged, and returns
 * what its hooks saw, with the moments before the worker started and after the last outcome.
 */
async function runDiscoveries(count: number, task: Task<'channel_discovery'>) {
  const deferred: { job: ClaimedJob; reason: Deferral; until: Date }[] = [];
  const failed: { job: ClaimedJob; error: Error; permanent: boolean }[] = [];
  const completed: ClaimedJob[] = [];
  const errors: Error[] = [];
  const worker = createTestWorker({
    url: api.url,
    concurrency: count,
    waitMs: 200,
    tasks: { channel_discovery: task },
    hooks: {
      deferred: (job, reason, at) => deferred.push({ job, reason, until: at }),
      failed: (job, error, permanent) => failed.push({ job, error, permanent }),
      completed: (job) => completed.push(job),
      error: (error) => errors.push(error),
    },
  });
  const before = Date.now();
  worker.start();
  await until(() => deferred.length + failed.length + completed.length === count);
  const after = Date.now();
  await worker.stop();
  return { deferred, failed, completed, errors, before, after };
}

describe('what a handler throws, as the outcome its worker reports', () => {
  it('names each class, gives it a message of its own by default, and keeps the cause it is given', () => {
    const cause = new Error('HTTP 429');
    expect(new RateLimitedError(undefined, { cause })).toMatchObject({
      name: 'RateLimitedError',
      message: 'rate limited',
      cause,
    });
    expect(new QuotaExhaustedError(undefined, { cause })).toMatchObject({
      name: 'QuotaExhaustedError',
      message: 'quota exhausted',
      cause,
    });
    const until = new Date('2030-01-01T00:00:00Z');
    expect(new SnoozeJob(until)).toMatchObject({
      name: 'SnoozeJob',
      message: 'snoozed until 2030-01-01T00:00:00.000Z',
    });
    expect(new SnoozeJob(until, 'the premiere has not aired yet').message).toBe(
      'the premiere has not aired yet',
    );
  });

  it('takes a snooze of zero seconds or more, and no other', () => {
    const now = Date.now();
    expect(new SnoozeJob(0).until.getTime()).toBeGreaterThanOrEqual(now);
    for (const after of [-1, Number.NaN, new Date('not a date')])
      expect(() => new SnoozeJob(after), String(after)).toThrow(RangeError);
  });

  it('rounds a retry-after up to whole seconds, from 1 up to a day (edges: a day, and one second past it)', () => {
    const retryAfter = (seconds: number) =>
      (
        outcomeOfError(new RateLimitedError('429', { retryAfterSeconds: seconds }), undefined) as {
          retryAfterSeconds?: number;
        }
      ).retryAfterSeconds;
    expect(retryAfter(0.2)).toBe(1);
    expect(retryAfter(7_200.5)).toBe(7_201);
    expect(retryAfter(86_400)).toBe(86_400);
    expect(retryAfter(86_401)).toBe(86_400);
    expect(retryAfter(Number.POSITIVE_INFINITY)).toBeUndefined();
  });

  it('keeps the units a handler spent, whatever it threw', () => {
    for (const thrown of [
      new SnoozeJob(60),
      new RateLimitedError(),
      new QuotaExhaustedError(),
      new PermanentJobError('gone'),
      new Error('flaky'),
    ])
      expect(outcomeOfError(thrown, 7), thrown.name).toMatchObject({ unitsSpent: 7 });
  });
});

describe('a handler saying what becomes of its job', () => {
  it('snoozes its job for the seconds it gives, its attempt unspent and its reason shown, recording no failure', async () => {
    const [job] = await discoveryJobs(1);
    const run = await runDiscoveries(1, (_job, helpers) =>
      helpers.snooze(600, 'the premiere has not aired yet'),
    );
    const row = await jobRow(job!.id);
    expect(row).toMatchObject({
      status: 'queued',
      attempts: 0,
      wait_reason: 'snoozed',
      wait_detail: 'the premiere has not aired yet',
      error_message: null,
      lease_token: null,
    });
    expect(row.run_after.getTime()).toBeGreaterThanOrEqual(run.before + seconds(600));
    expect(row.run_after.getTime()).toBeLessThanOrEqual(run.after + seconds(601));
    expect(run.deferred).toEqual([
      { job: expect.objectContaining({ id: job!.id }), reason: 'snoozed', until: row.run_after },
    ]);
    expect(run.failed).toEqual([]);
  });

  it('stores a failure’s message and a snooze’s reason as PostgreSQL can hold them: no NUL, within their lengths, a reason trimmed, an empty message named by its class', async () => {
    const jobs = await discoveryJobs(6);
    const [nul, long, unnamed, reasonWithNul, longReason, blankReason] = jobs.map((job) => job!.id);
    const tasks = new Map<string | undefined, Task<'channel_discovery'>>([
      [
        nul,
        () => {
          throw new Error('\0quota\0 exceeded');
        },
      ],
      [
        long,
        () => {
          throw new Error('x'.repeat(10_001));
        },
      ],
      [
        unnamed,
        () => {
          throw new TypeError('');
        },
      ],
      [reasonWithNul, (_job, helpers) => helpers.snooze(600, '\0 the premiere\0 has not aired ')],
      [longReason, (_job, helpers) => helpers.snooze(600, `  ${'r'.repeat(999)} tail`)],
      [blankReason, (_job, helpers) => helpers.snooze(600, ' \0 ')],
    ]);
    const run = await runDiscoveries(6, (job, helpers) => tasks.get(job.id)!(job, helpers));

    expect(run.errors).toEqual([]);
    expect(run.failed).toHaveLength(3);
    expect(run.deferred).toHaveLength(3);
    const rows = new Map((await jobRows(jobs.map((job) => job!.id))).map((row) => [row.id, row]));
    expect(rows.get(nul)).toMatchObject({ status: 'queued', attempts: 1, error_message: 'quota exceeded' });
    expect(rows.get(long)).toMatchObject({
      status: 'queued',
      attempts: 1,
      error_message: 'x'.repeat(10_000),
    });
    expect(rows.get(unnamed)).toMatchObject({ status: 'queued', attempts: 1, error_message: 'TypeError' });
    expect(rows.get(reasonWithNul)).toMatchObject({
      attempts: 0,
      wait_reason: 'snoozed',
      wait_detail: 'the premiere has not aired',
    });
    expect(rows.get(longReason)).toMatchObject({ attempts: 0, wait_detail: 'r'.repeat(999) });
    expect(rows.get(blankReason)).toMatchObject({ attempts: 0, wait_reason: 'snoozed', wait_detail: null });
  });

  it('snoozes its job for the seconds it gives on the database’s clock, when the worker’s clock is an hour ahead', async () => {
    const [job] = await discoveryJobs(1);
    const realNow = Date.now.bind(Date);
    const clock = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + seconds(3_600));
    try {
      await runDiscoveries(1, (_job, helpers) => helpers.snooze(600, 'the premiere has not aired yet'));
    } finally {
      clock.mockRestore();
    }
    const { rows } = await testDatabase().db.raw<{ rows: { left: number }[] }>(
      'SELECT extract(epoch FROM run_after - now())::float AS left FROM processing_jobs WHERE id = ?',
      [job!.id],
    );
    expect(rows[0]!.left).toBeGreaterThan(590);
    expect(rows[0]!.left).toBeLessThanOrEqual(601);
  });

  it('snoozes its job until the time a thrown SnoozeJob names', async () => {
    const [job] = await discoveryJobs(1);
    const dueAt = new Date(Date.now() + seconds(3_600));
    const run = await runDiscoveries(1, () => {
      throw new SnoozeJob(dueAt);
    });
    const row = await jobRow(job!.id);
    expect(row).toMatchObject({ status: 'queued', attempts: 0, wait_reason: 'snoozed', wait_detail: null });
    // Sent as whole seconds from the moment it was sent: at the time named, or within a second and the call after.
    expect(row.run_after.getTime()).toBeGreaterThanOrEqual(dueAt.getTime());
    expect(row.run_after.getTime()).toBeLessThanOrEqual(
      dueAt.getTime() + seconds(1) + (run.after - run.before),
    );
  });

  it('rejects a snooze to no time at all, failing the job with its message to be retried', async () => {
    const [job] = await discoveryJobs(1);
    const run = await runDiscoveries(1, (_job, helpers) => helpers.snooze(Number.NaN));
    expect(run.failed).toHaveLength(1);
    expect(await jobRow(job!.id)).toMatchObject({
      status: 'queued',
      attempts: 1,
      wait_reason: 'retry',
      error_message: 'a snooze needs a time or a number of seconds from now, not NaN',
    });
  });

  it('fails a job snoozed past the schedule’s horizon, saying the API rejected the snooze, to be retried', async () => {
    const [job] = await discoveryJobs(1);
    const run = await runDiscoveries(1, (_job, helpers) => helpers.snooze(400 * 86_400, 'next year'));
    expect(run.deferred).toEqual([]);
    expect(run.failed.map(({ job: failed, permanent }) => [failed.id, permanent])).toEqual([
      [job!.id, false],
    ]);
    expect(run.errors.map((error) => error.message)).toEqual([
      expect.stringMatching(/^the API rejected the snooze of job .*: failed instead$/),
    ]);
    expect(await jobRow(job!.id)).toMatchObject({
      status: 'queued',
      attempts: 1,
      wait_reason: 'retry',
      error_message: expect.stringMatching(/^the API rejected the snooze: /),
    });
  });

  it('fails a job snoozed past the schedule’s horizon to be retried also when its worker was given no hooks', async () => {
    const [job] = await discoveryJobs(1);
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      waitMs: 200,
      tasks: { channel_discovery: (_job, helpers) => helpers.snooze(400 * 86_400, 'next year') },
    });
    try {
      worker.start();
      await until(async () => (await jobRow(job!.id)).wait_reason === 'retry');
    } finally {
      await worker.stop();
    }
    expect(await jobRow(job!.id)).toMatchObject({ status: 'queued', attempts: 1, wait_reason: 'retry' });
  });

  it('defers a rate-limited job by its retry-after, its attempt unspent, and cools its key down as long', async () => {
    const [job] = await discoveryJobs(1);
    const run = await runDiscoveries(1, () => {
      throw new RateLimitedError('429 Too Many Requests', { retryAfterSeconds: 120 });
    });
    const row = await jobRow(job!.id);
    expect(row).toMatchObject({
      status: 'queued',
      attempts: 0,
      wait_reason: 'rate_limited',
      wait_detail: '429 Too Many Requests',
      error_message: null,
    });
    expect(row.run_after.getTime()).toBeGreaterThanOrEqual(run.before + seconds(120));
    expect(row.run_after.getTime()).toBeLessThanOrEqual(run.after + seconds(120));
    const key = await testDatabase().db('rate_keys').where({ key: row.rate_key }).first();
    expect(key).toMatchObject({ cooldown_until: row.run_after, rate_limited_in_a_row: 1 });
    expect(run.deferred.map(({ reason, until: at }) => ({ reason, at }))).toEqual([
      { reason: 'rate_limited', at: row.run_after },
    ]);
  });

  it('cools the whole type down for a rate limit with scope type, its retry-after rounded up to whole seconds', async () => {
    const [job] = await discoveryJobs(1);
    const run = await runDiscoveries(1, () => {
      throw new RateLimitedError('this address is blocked', { retryAfterSeconds: 30.2, scope: 'type' });
    });
    const row = await jobRow(job!.id);
    expect(row).toMatchObject({ status: 'queued', attempts: 0, wait_reason: 'rate_limited' });
    expect(row.run_after.getTime()).toBeGreaterThanOrEqual(run.before + seconds(31));
    expect(row.run_after.getTime()).toBeLessThanOrEqual(run.after + seconds(31));
    const type = await testDatabase().db('job_types').where({ name: 'channel_discovery' }).first();
    expect(type.cooldown_until).toEqual(row.run_after);
    expect(await testDatabase().db('rate_keys').where({ key: row.rate_key }).first()).toBeUndefined();
  });

  it('defers a job whose budget YouTube says is spent to the budget’s reset, and marks the budget spent until then', async () => {
    await discoveriesSpend(3);
    const [job] = await discoveryJobs(1);
    const run = await runDiscoveries(1, () => {
      throw new QuotaExhaustedError('403 quotaExceeded');
    });
    const row = await jobRow(job!.id);
    expect(row).toMatchObject({
      status: 'queued',
      attempts: 0,
      wait_reason: 'quota_exhausted',
      wait_detail: '403 quotaExceeded',
    });
    const budget = await testDatabase().db('quota_budgets').where({ name: 'youtube-data-api' }).first();
    expect(budget.exhausted_until).toEqual(row.run_after);
    // The next local midnight in Los Angeles: within a day (25 hours on the day the clocks go back).
    expect(row.run_after.getTime()).toBeGreaterThan(run.before);
    expect(row.run_after.getTime()).toBeLessThanOrEqual(run.after + seconds(25 * 3_600));
    expect(run.deferred.map(({ reason }) => reason)).toEqual(['quota_exhausted']);
  });

  it('retries with backoff a job whose type spends no budget when its handler says the quota is spent', async () => {
    const [job] = await discoveryJobs(1);
    const run = await runDiscoveries(1, () => {
      throw new QuotaExhaustedError('403 quotaExceeded');
    });
    expect(await jobRow(job!.id)).toMatchObject({
      status: 'queued',
      attempts: 1,
      wait_reason: 'retry',
      error_message: '403 quotaExceeded',
    });
    expect(run.failed.map(({ permanent }) => permanent)).toEqual([false]);
    expect(run.errors.map((error) => error.message)).toEqual([
      expect.stringMatching(/^the API rejected the fail of job .* \(.*spends no budget.*\): failed instead$/),
    ]);
  });

  it('reports the units a handler spent with its completion, failure or snooze, in place of its type’s cost', async () => {
    await discoveriesSpend(5);
    const [completing, failing, snoozing, silent] = await discoveryJobs(4);
    await runDiscoveries(4, (job, helpers) => {
      if (job.id === completing!.id) {
        helpers.spend(2);
        helpers.spend(1);
        return { videosFound: 0, newVideos: 0 };
      }
      if (job.id === failing!.id) {
        helpers.spend(7);
        throw new Error('the channel page did not load');
      }
      if (job.id === snoozing!.id) {
        helpers.spend(0);
        return helpers.snooze(600);
      }
      return { videosFound: 0, newVideos: 0 };
    });
    const spent = await testDatabase().db('quota_spends').select('job_id', 'units');
    expect(Object.fromEntries(spent.map((row) => [row.job_id, row.units]))).toEqual({
      [completing!.id]: 3,
      [failing!.id]: 7,
      [snoozing!.id]: 0,
      [silent!.id]: 5,
    });
  });

  it.each([1.5, -1])(
    'fails a job whose handler reports %s units spent, as the mistake it is',
    async (units) => {
      const [job] = await discoveryJobs(1);
      await runDiscoveries(1, (_job, helpers) => {
        helpers.spend(units);
        return null;
      });
      expect(await jobRow(job!.id)).toMatchObject({
        status: 'queued',
        attempts: 1,
        error_message: `units spent are a whole number, 0 or more, not ${units}`,
      });
    },
  );

  it('fails a job whose handler names more follow-up jobs than a completion takes, saying so', async () => {
    const [job] = await discoveryJobs(1);
    const followUp = () => ({
      jobType: 'transcript_extraction' as const,
      entityType: 'video' as const,
      entityId: randomUUID(),
    });
    await runDiscoveries(1, (_job, helpers) => {
      // A thousand in all is the most; the one more goes past it.
      helpers.followUp(...Array.from({ length: 999 }, followUp));
      helpers.followUp(followUp(), followUp());
      return null;
    });
    expect(await jobRow(job!.id)).toMatchObject({
      status: 'queued',
      attempts: 1,
      error_message: 'a completion enqueues 1000 follow-up jobs at most',
    });
  });

  it('enqueues the follow-up jobs its handler names with the job’s completion', async () => {
    const channel = await channelFactory.create();
    const videos = await videoFactory.createList(2, { channelId: channel.id, status: 'discovered' });
    const [job] = await enqueueJobs(testDatabase().db, [
      { jobType: 'channel_discovery', entityType: 'channel', entityId: channel.id },
    ]);
    await runDiscoveries(1, (_job, helpers) => {
      helpers.followUp(
        ...videos.map((video) => ({
          jobType: 'transcript_extraction' as const,
          entityType: 'video' as const,
          entityId: video.id,
        })),
      );
      return { videosFound: 2, newVideos: 2 };
    });
    expect(await jobRow(job!.id)).toMatchObject({ status: 'completed' });
    const followUps = await testDatabase()
      .db('processing_jobs')
      .where({ job_type: 'transcript_extraction' })
      .orderBy('entity_id');
    expect(followUps.map((row) => [row.entity_id, row.status])).toEqual(
      videos.map((video) => [video.id, 'queued']).sort(([a], [b]) => (a! < b! ? -1 : 1)),
    );
  });
});
