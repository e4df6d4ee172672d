import { claimJobsInput } from '../../src/schemas/processing-job';
import { beforeEach, describe, expect, it } from 'vitest';
import { processingJobFactory } from '../../dev/factories';
import { claimJobs, failJob, retryDelaySeconds, retryMaxSeconds } from '../../src/queue/job-queue';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

// Claims take any runnable job of the database: each test starts from an empty queue.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

/** Queued jobs with the given priorities, created a second apart in the order given. */
async function queuedJobs(priorities: number[]) {
  const jobs = [];
  for (const [index, priority] of priorities.entries()) {
    const job = await processingJobFactory.create({ priority });
    await db()('processing_jobs')
      .where({ id: job.id })
      .update({ created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, index)) });
    jobs.push(job);
  }
  return jobs;
}

/** A job held on its first attempt by a worker whose lease ran out a second ago. */
const leaseExpired = (id: string) =>
  db()('processing_jobs')
    .where({ id })
    .update({
      status: 'running',
      attempts: 1,
      lease_token: '00000000-0000-4000-8000-000000000002',
      lease_expires_at: new Date(Date.now() - 1_000),
    });

const claimOne = async () => (await claimJobs(db(), claimJobsInput.parse({ workerId: 'w', limit: 1 })))[0];

describe('which job a claim hands out', () => {
  it('hands out the highest priority first, one at a time, whatever the age', async () => {
    const [low, high, middle] = await queuedJobs([0, 10, 5]);
    expect((await claimOne())?.id).toBe(high!.id);
    expect((await claimOne())?.id).toBe(middle!.id);
    expect((await claimOne())?.id).toBe(low!.id);
    expect(await claimOne()).toBeUndefined();
  });

  it('hands out the oldest first among equal priorities', async () => {
    const [oldest, middle, newest] = await queuedJobs([3, 3, 3]);
    expect((await claimOne())?.id).toBe(oldest!.id);
    expect((await claimOne())?.id).toBe(middle!.id);
    expect((await claimOne())?.id).toBe(newest!.id);
  });

  it('lists a claim of several by priority, then age, the order a worker starts them in', async () => {
    const [oldLow, high, newLow, middle] = await queuedJobs([0, 10, 0, 5]);
    const claimed = await claimJobs(db(), claimJobsInput.parse({ workerId: 'w', limit: 4 }));
    expect(claimed.map((job) => job.id)).toEqual([high!.id, middle!.id, oldLow!.id, newLow!.id]);
  });

  it('weighs an expired lease and a queued job by priority alike', async () => {
    const [stale, fresh] = await queuedJobs([1, 9]);
    await leaseExpired(stale!.id);
    expect((await claimOne())?.id).toBe(fresh!.id);
    expect((await claimOne())?.id).toBe(stale!.id);

    const [urgent, routine] = await queuedJobs([9, 1]);
    await leaseExpired(urgent!.id);
    expect((await claimOne())?.id).toBe(urgent!.id);
    expect((await claimOne())?.id).toBe(routine!.id);
  });

  it('does not hand out a job before its run_after, and does once it is due', async () => {
    const later = await processingJobFactory.create({
      runAfter: new Date(Date.now() + 60_000),
      priority: 100,
    });
    const due = await processingJobFactory.create({ priority: 0 });
    expect((await claimOne())?.id).toBe(due.id);
    expect(await claimOne()).toBeUndefined();
    await db()('processing_jobs')
      .where({ id: later.id })
      .update({ run_after: new Date(Date.now() - 1_000) });
    expect((await claimOne())?.id).toBe(later.id);
  });

  it('takes over an expired lease with attempts left, and fails one on its last attempt', async () => {
    const [retried, exhausted] = await queuedJobs([1, 1]);
    await db()('processing_jobs')
      .whereIn('id', [retried!.id, exhausted!.id])
      .update({
        status: 'running',
        lease_token: '00000000-0000-4000-8000-000000000001',
        lease_expires_at: new Date(Date.now() - 1_000),
        max_attempts: 2,
      });
    await db()('processing_jobs').where({ id: retried!.id }).update({ attempts: 1 });
    await db()('processing_jobs').where({ id: exhausted!.id }).update({ attempts: 2 });
    const claimed = await claimJobs(db(), claimJobsInput.parse({ workerId: 'w', limit: 10 }));
    expect(claimed.map((job) => job.id)).toEqual([retried!.id]);
    expect(claimed[0]).toMatchObject({ attempts: 2, lockedBy: 'w' });
    const failed = await db()('processing_jobs').where({ id: exhausted!.id }).first();
    expect(failed).toMatchObject({ status: 'failed', lease_token: null });
  });

  it('fails leases that expired on their last attempt a hundred per claim, and hands none of them out', async () => {
    const jobs = await processingJobFactory.trait('running').createList(101, { attempts: 3, maxAttempts: 3 });
    await db()('processing_jobs')
      .whereIn(
        'id',
        jobs.map((job) => job.id),
      )
      .update({ lease_expires_at: new Date(Date.now() - 1_000) });
    const still = () =>
      db()('processing_jobs').where({ status: 'running' }).count<{ n: string }[]>({ n: '*' });
    expect(await claimJobs(db(), claimJobsInput.parse({ workerId: 'w', limit: 10 }))).toEqual([]);
    expect(Number((await still())[0]!.n)).toBe(1);
    expect(await claimJobs(db(), claimJobsInput.parse({ workerId: 'w', limit: 10 }))).toEqual([]);
    expect(Number((await still())[0]!.n)).toBe(0);
  });

  it('lets an entity whose job failed for good be queued again', async () => {
    const failed = await processingJobFactory.trait('exhausted').create();
    const [again] = await enqueueJobs(db(), [
      { jobType: failed.jobType, entityType: failed.entityType, entityId: failed.entityId },
    ]);
    expect(again).toMatchObject({ status: 'queued', attempts: 0 });
    expect(again!.id).not.toBe(failed.id);
  });
});

describe('the retry delay', () => {
  it('doubles per attempt from 10 s, within ±20%, so each delay exceeds the one before until the cap', () => {
    for (let attempt = 1; attempt < 9; attempt += 1) {
      expect(retryDelaySeconds(attempt, () => 0)).toBeCloseTo(10 * 2 ** (attempt - 1) * 0.8);
      expect(retryDelaySeconds(attempt, () => 1)).toBeCloseTo(10 * 2 ** (attempt - 1) * 1.2);
      expect(retryDelaySeconds(attempt + 1, () => 0)).toBeGreaterThan(
        retryDelaySeconds(attempt, () => 1) * 1.3,
      );
    }
  });

  it('never passes an hour plus its jitter, even at attempt 20 or 100', () => {
    for (const attempt of [10, 20, 50, 100]) {
      expect(retryDelaySeconds(attempt, () => 1)).toBeCloseTo(retryMaxSeconds * 1.2);
      expect(retryDelaySeconds(attempt, () => 0)).toBeCloseTo(retryMaxSeconds * 0.8);
    }
  });

  it('schedules the 20th failure within the cap', async () => {
    const [job] = await queuedJobs([0]);
    await db()('processing_jobs').where({ id: job!.id }).update({ max_attempts: 30, attempts: 19 });
    const claimed = (await claimOne())!;
    expect(claimed.attempts).toBe(20);
    const failed = await failJob(db(), {
      id: claimed.id,
      leaseToken: claimed.leaseToken!,
      error: 'timeout',
      retryable: true,
    });
    const waitSeconds = (failed.runAfter.getTime() - Date.now()) / 1_000;
    expect(waitSeconds).toBeGreaterThan(retryMaxSeconds * 0.8 - 5);
    expect(waitSeconds).toBeLessThanOrEqual(retryMaxSeconds * 1.2);
  });
});
