import { claimJobsInput } from '../../src/schemas/processing-job';
import { describe, expect, it } from 'vitest';
import { processingJobFactory, processingSessionFactory, videoFactory } from '../../dev/factories';
import { claimJobs, completeJob, cancelJob, enqueueJobs, failJob } from '../../src/queue/job-queue';
import { deleteJob, updateJob } from '../../src/services/processing-jobs';
import { deleteChannel } from '../../src/services/channels';
import {
  deleteSession,
  foldCountsAbove,
  getSession,
  sessionProgress,
} from '../../src/services/processing-sessions';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

/** The truth the kept counts must equal: the session's jobs counted now. */
async function countedNow(sessionId: string): Promise<Record<string, number>> {
  const rows = await db()('processing_jobs')
    .where('session_id', sessionId)
    .groupBy('status')
    .select<{ status: string; n: number }[]>('status', db().raw('count(*)::int AS n'));
  return Object.fromEntries(rows.map((row) => [row.status, row.n]));
}

async function keptCounts(sessionId: string): Promise<Record<string, number>> {
  const progress = await sessionProgress(db(), sessionId);
  const statuses = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
  return Object.fromEntries(statuses.filter((s) => progress[s] > 0).map((s) => [s, progress[s]]));
}

describe('session progress figures', () => {
  it('gives percent done, rate and finish time from the counts and the time since the start', async () => {
    const startedAt = Date.now() - 100_000;
    const session = await processingSessionFactory
      .trait('running')
      .create({ startedAt: new Date(startedAt) });
    await processingJobFactory.trait('completed').createList(10, { sessionId: session.id });
    await processingJobFactory.trait('exhausted').createList(2, { sessionId: session.id });
    await processingJobFactory.trait('cancelled').create({ sessionId: session.id });
    await processingJobFactory.createList(7, { sessionId: session.id });
    const asked = Date.now();
    const progress = await sessionProgress(db(), session.id);
    const returned = Date.now();
    expect(progress).toMatchObject({
      total: 20,
      completed: 10,
      failed: 2,
      cancelled: 1,
      queued: 7,
      running: 0,
      percentDone: 65,
    });
    // 10 completed in the time since the start (100 s and however long the test took): the 7 left take 70% of
    // that time again, counted from the moment of the response (less the fraction of a millisecond a Date drops).
    const since = (at: number) => (at - startedAt) / 1_000;
    expect(progress.ratePerSecond).toBeLessThanOrEqual(10 / since(asked));
    expect(progress.ratePerSecond).toBeGreaterThanOrEqual(10 / since(returned));
    expect(progress.estimatedFinishAt!.getTime()).toBeGreaterThanOrEqual(
      asked + 0.7 * (asked - startedAt) - 1,
    );
    expect(progress.estimatedFinishAt!.getTime()).toBeLessThanOrEqual(
      returned + 0.7 * (returned - startedAt),
    );
  });

  it('has no rate or finish time before its start or before its first completed job, and 0% of nothing', async () => {
    const pending = await processingSessionFactory.create({ status: 'pending', startedAt: null });
    await processingJobFactory.create({ sessionId: pending.id });
    expect(await sessionProgress(db(), pending.id)).toMatchObject({
      total: 1,
      percentDone: 0,
      ratePerSecond: null,
      estimatedFinishAt: null,
    });
    const started = await processingSessionFactory
      .trait('running')
      .create({ startedAt: new Date(Date.now() - 10_000) });
    await processingJobFactory.create({ sessionId: started.id });
    expect(await sessionProgress(db(), started.id)).toMatchObject({
      ratePerSecond: 0,
      estimatedFinishAt: null,
    });
    const empty = await processingSessionFactory.trait('running').create();
    expect(await sessionProgress(db(), empty.id)).toMatchObject({ total: 0, percentDone: 0 });
  });

  it(`folds a session's count rows when it reads more than ${foldCountsAbove}, not at ${foldCountsAbove}`, async () => {
    const session = await processingSessionFactory.trait('running').create();
    const countRows = async () =>
      Number((await db()('processing_session_job_counts').where('session_id', session.id).count())[0]!.count);
    // Deltas as writers leave them: +1 and -1 in turn, ending at one queued job.
    const deltas = (n: number, from: number) =>
      Array.from({ length: n }, (_, index) => ({
        session_id: session.id,
        status: 'queued',
        jobs: (from + index) % 2 === 0 ? 1 : -1,
      }));
    await db()('processing_session_job_counts').insert(deltas(foldCountsAbove - 1, 0));
    await db()('processing_session_job_counts').insert({
      session_id: session.id,
      status: 'running',
      jobs: 1,
    });
    expect(await countRows()).toBe(foldCountsAbove);
    expect(await sessionProgress(db(), session.id)).toMatchObject({ queued: 1, running: 1 });
    expect(await countRows()).toBe(foldCountsAbove);

    await db()('processing_session_job_counts').insert(deltas(2, 1));
    expect(await sessionProgress(db(), session.id)).toMatchObject({ queued: 1, running: 1 });
    expect(await countRows()).toBe(2);
    expect(await sessionProgress(db(), session.id)).toMatchObject({ queued: 1, running: 1 });
  });
});

describe('session progress', () => {
  it('follows every change of its jobs: enqueue, claim, complete, fail, cancel, move and delete', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const other = await processingSessionFactory.trait('running').create();
    const videos = await videoFactory.createList(6);
    const jobs = await enqueueJobs(
      db(),
      videos.map((video) => ({
        jobType: 'transcript_extraction' as const,
        entityType: 'video' as const,
        entityId: video.id,
        sessionId: session.id,
        priority: 1_000_000,
        maxAttempts: 1,
      })),
    );
    expect(await keptCounts(session.id)).toEqual({ queued: 6 });

    const claimed = await claimJobs(db(), claimJobsInput.parse({ workerId: 'progress', limit: 4 }));
    expect(claimed.every((job) => job.sessionId === session.id)).toBe(true);
    await completeJob(db(), { id: claimed[0]!.id, leaseToken: claimed[0]!.leaseToken! });
    await failJob(db(), {
      id: claimed[1]!.id,
      leaseToken: claimed[1]!.leaseToken!,
      error: 'boom',
      retryable: true,
    });
    await cancelJob(db(), claimed[2]!.id);
    const queued = jobs.filter((job) => !claimed.some((c) => c.id === job.id));
    await updateJob(db(), { id: queued[0]!.id, sessionId: other.id });
    await deleteJob(db(), queued[1]!.id);

    expect(await keptCounts(session.id)).toEqual(await countedNow(session.id));
    expect(await keptCounts(session.id)).toEqual({ running: 1, completed: 1, failed: 1, cancelled: 1 });
    expect(await keptCounts(other.id)).toEqual({ queued: 1 });
    expect((await sessionProgress(db(), session.id)).total).toBe(4);
  });

  it('counts jobs created with the session, and forgets a deleted session while its jobs stay', async () => {
    const session = await processingSessionFactory.trait('running').transient({ jobs: 5 }).create();
    expect(await keptCounts(session.id)).toEqual(await countedNow(session.id));
    expect((await sessionProgress(db(), session.id)).total).toBe(5);

    await deleteSession(db(), session.id);
    expect(await db()('processing_session_job_counts').where('session_id', session.id)).toEqual([]);
    expect(
      await db()('processing_jobs').whereIn(
        'id',
        session.jobs!.map((job) => job.id),
      ),
    ).toHaveLength(5);
  });

  it('stays exact when 8 workers claim and complete one session’s jobs at once', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const videos = await videoFactory.createList(200);
    await enqueueJobs(
      db(),
      videos.map((video) => ({
        jobType: 'transcript_extraction' as const,
        entityType: 'video' as const,
        entityId: video.id,
        sessionId: session.id,
        priority: 999_999,
      })),
    );
    const worker = async (workerId: string) => {
      for (;;) {
        const claimed = (await claimJobs(db(), claimJobsInput.parse({ workerId, limit: 5 }))).filter(
          (job) => job.sessionId === session.id,
        );
        if (claimed.length === 0) return;
        for (const job of claimed) await completeJob(db(), { id: job.id, leaseToken: job.leaseToken! });
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, index) => worker(`w${index}`)));

    expect(await keptCounts(session.id)).toEqual({ completed: 200 });
    expect(await countedNow(session.id)).toEqual({ completed: 200 });
    // Reading the progress folded the many rows of deltas into one per status, and the sum stayed.
    const rows = await db()('processing_session_job_counts').where('session_id', session.id);
    expect(rows).toHaveLength(1);
    expect(await keptCounts(session.id)).toEqual({ completed: 200 });
  });

  it('keeps processedVideos equal to the completed count however a completed job leaves its session', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const other = await processingSessionFactory.trait('running').create();
    const jobs = await processingJobFactory.trait('completed').createList(4, { sessionId: session.id });
    const processed = async (id: string) => {
      const progress = await sessionProgress(db(), id);
      expect(progress.processedVideos).toBe(progress.completed);
      expect((await getSession(db(), id)).processedVideos).toBe(progress.completed);
      return progress.completed;
    };
    expect(await processed(session.id)).toBe(4);

    await deleteJob(db(), jobs[0]!.id);
    expect(await processed(session.id)).toBe(3);

    await updateJob(db(), { id: jobs[1]!.id, sessionId: other.id });
    expect(await processed(session.id)).toBe(2);
    expect(await processed(other.id)).toBe(1);

    await updateJob(db(), { id: jobs[2]!.id, sessionId: null });
    expect(await processed(session.id)).toBe(1);

    const video = await db()('videos').where({ id: jobs[3]!.entityId }).first<{ channel_id: string }>();
    await deleteChannel(db(), video.channel_id);
    expect(await processed(session.id)).toBe(0);
  });

  it('ignores jobs without a session', async () => {
    const before = await db()('processing_session_job_counts').count<{ count: string }[]>('* as count');
    await processingJobFactory.createList(3);
    const after = await db()('processing_session_job_counts').count<{ count: string }[]>('* as count');
    expect(after[0]!.count).toBe(before[0]!.count);
  });
});
