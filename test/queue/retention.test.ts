import { claimJobsInput } from '../../src/schemas/processing-job';
import { beforeEach, describe, expect, it } from 'vitest';
import { processingJobFactory, processingSessionFactory } from '../../dev/factories';
import type { SessionProgress } from '../../src/schemas/responses';
import { startScheduler } from '../../src/queue/scheduler';
import { claimJobs, completeJob } from '../../src/queue/job-queue';
import { sessionProgress } from '../../src/services/processing-sessions';
import { pruneFinishedJobs } from '../../src/queue/schedules';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;
const day = 86_400_000;
const daysAgo = (days: number) => new Date(Date.now() - days * day);

// Pruning looks at every job of the database: each test starts from none.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

type Kind = 'completed' | 'exhausted' | 'cancelled' | 'queued' | 'running';

/** A job of the session for each [kind, days]: finished that many days ago, or created then if unfinished. */
async function jobsAged(sessionId: string, list: [Kind, number][]) {
  const jobs = [];
  for (const [kind, days] of list) {
    const factory = kind === 'queued' ? processingJobFactory : processingJobFactory.trait(kind);
    const job = await factory.create({ sessionId });
    await db()('processing_jobs')
      .where({ id: job.id })
      .update({ created_at: daysAgo(days + 1), ...(job.completedAt ? { completed_at: daysAgo(days) } : {}) });
    jobs.push(job);
  }
  return jobs;
}

const remaining = async () => (await db()('processing_jobs').pluck('id')).sort();
/** A session's progress without the figures that move with the clock (rate, finish time). */
const counts = ({ ratePerSecond: _rate, estimatedFinishAt: _finish, ...progress }: SessionProgress) =>
  progress;

describe('pruning finished jobs', () => {
  it('removes finished jobs past the retention, keeps newer and unfinished ones, and leaves the session’s progress as it was', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const [, , , recent, oldQueued, oldRunning] = await jobsAged(session.id, [
      ['completed', 20],
      ['exhausted', 15],
      ['cancelled', 14.01],
      ['completed', 13.99],
      ['queued', 30],
      ['running', 30],
    ]);
    const before = counts(await sessionProgress(db(), session.id));
    expect(before).toMatchObject({ total: 6, completed: 2, failed: 1, cancelled: 1, queued: 1, running: 1 });

    expect(await pruneFinishedJobs(db(), daysAgo(14), 100)).toBe(3);
    expect(await remaining()).toEqual([recent!.id, oldQueued!.id, oldRunning!.id].sort());
    expect(counts(await sessionProgress(db(), session.id))).toEqual(before);
  });

  it('keeps counting the jobs that are left, and the new ones, exactly', async () => {
    const session = await processingSessionFactory.trait('running').create();
    await jobsAged(session.id, [
      ['completed', 20],
      ['completed', 20],
    ]);
    await pruneFinishedJobs(db(), daysAgo(14), 100);
    const [fresh] = await jobsAged(session.id, [['queued', 0]]);
    const [claimed] = await claimJobs(db(), claimJobsInput.parse({ workerId: 'w', limit: 1 }));
    expect(claimed!.id).toBe(fresh!.id);
    await completeJob(db(), { id: claimed!.id, leaseToken: claimed!.leaseToken!, result: null });
    expect(await sessionProgress(db(), session.id)).toMatchObject({
      total: 3,
      completed: 3,
      queued: 0,
      running: 0,
      percentDone: 100,
      processedVideos: 3,
    });
  });

  it('takes the oldest first, a batch at a time (edge: a batch of one)', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const [thirty, , forty] = await jobsAged(session.id, [
      ['completed', 30],
      ['completed', 50],
      ['completed', 40],
    ]);
    expect(await pruneFinishedJobs(db(), daysAgo(14), 1)).toBe(1);
    expect(await remaining()).toEqual([thirty!.id, forty!.id].sort());
    expect(await pruneFinishedJobs(db(), daysAgo(14), 1)).toBe(1);
    expect(await remaining()).toEqual([thirty!.id]);
    expect(await pruneFinishedJobs(db(), daysAgo(14), 2)).toBe(1);
    expect(await pruneFinishedJobs(db(), daysAgo(14), 2)).toBe(0);
  });

  it('runs on the scheduler’s tick with its retention, batch after batch until none is left', async () => {
    const session = await processingSessionFactory.trait('running').create();
    await jobsAged(
      session.id,
      Array.from({ length: 7 }, () => ['completed', 3] as [Kind, number]),
    );
    const [kept] = await jobsAged(session.id, [['completed', 1]]);
    const ticks: { pruned: number }[] = [];
    const scheduler = startScheduler({
      db: db(),
      intervalMs: 60_000,
      batchSize: 2,
      retentionDays: 2,
      log: { info: (tick) => ticks.push(tick as { pruned: number }), error: () => undefined },
    });
    await scheduler.tick();
    await scheduler.stop();
    // The same tick enqueued discovery for the factories' channels, which are due.
    expect(ticks).toMatchObject([{ pruned: 7 }]);
    expect(await db()('processing_jobs').where({ status: 'completed' }).pluck('id')).toEqual([kept!.id]);
  });

  it('ends a tick’s pruning at the first batch that comes back short, without asking again', async () => {
    const session = await processingSessionFactory.trait('running').create();
    await jobsAged(session.id, [['completed', 3]]);
    const prunes: string[] = [];
    const count = ({ sql }: { sql: string }) => {
      if (sql.includes('prune_finished_jobs(')) prunes.push(sql);
    };
    db().on('query', count);
    try {
      const scheduler = startScheduler({
        db: db(),
        intervalMs: 60_000,
        batchSize: 10,
        retentionDays: 2,
        log: { info: () => undefined, error: () => undefined },
      });
      await scheduler.stop();
    } finally {
      db().off('query', count);
    }
    expect(prunes).toHaveLength(1);
  });

  it('stops a tick after its budget of full batches, and leaves the rest to the next tick', async () => {
    const session = await processingSessionFactory.trait('running').create();
    await jobsAged(
      session.id,
      Array.from({ length: 5 }, () => ['completed', 3] as [Kind, number]),
    );
    const ticks: { pruned: number }[] = [];
    const scheduler = startScheduler({
      db: db(),
      intervalMs: 60_000,
      batchSize: 1,
      retentionDays: 2,
      maxBatchesPerTick: 2,
      log: { info: (tick) => ticks.push(tick as { pruned: number }), error: () => undefined },
    });
    // The tick at start, then this one.
    await scheduler.tick();
    await scheduler.stop();
    expect(ticks.map((tick) => tick.pruned)).toEqual([2, 2]);
    expect(await db()('processing_jobs').where({ status: 'completed' })).toHaveLength(1);
  });
});
