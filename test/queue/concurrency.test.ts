import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect';
import { channelFactory, processingSessionFactory, videoFactory } from '../../dev/factories';
import { type ClaimedJob, claimJobsInput, type ProcessingJob } from '../../src/schemas/processing-job';
import { ConflictError } from '../../src/services/errors';
import {
  cancelJob,
  claimJobs,
  completeJob,
  completeJobs,
  enqueueJobs,
  failJob,
  retryBaseSeconds,
} from '../../src/queue/job-queue';
import { sessionProgress } from '../../src/services/processing-sessions';
import { useApi } from '../support/api';
import { testDatabase, testPoolSettings } from '../support/database';

const workers = 16;
let db: Knex;

// One connection per worker, so the workers really run side by side in PostgreSQL: every service call below
// goes through this pool.
beforeAll(() => {
  db = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: workers + 4 });
});
afterAll(() => db.destroy());

const api = useApi();

async function enqueueForChannels(
  count: number,
  sessionId: string,
  maxAttempts = 3,
): Promise<ProcessingJob[]> {
  const jobs: ProcessingJob[] = [];
  for (let done = 0; done < count; done += 500) {
    const channels = await channelFactory.createList(Math.min(500, count - done));
    jobs.push(
      ...(await enqueueJobs(
        db,
        channels.map((channel) => ({
          jobType: 'channel_discovery',
          entityType: 'channel',
          entityId: channel.id,
          sessionId,
          maxAttempts,
        })),
      )),
    );
  }
  return jobs;
}

describe('the job queue under real concurrency', () => {
  for (const together of [false, true]) {
    const completing = together ? 'completing each claim together' : 'completing one job at a time';
    it(`lets ${workers} workers drain 5,000 jobs ${completing}, each completed exactly once and never held by two leases`, async () => {
      const session = await processingSessionFactory.trait('running').create();
      const enqueued = await enqueueForChannels(5_000, session.id);
      const completions = new Map<string, number>();
      const held = new Set<string>();
      let doubleHeld = 0;
      let rejected = 0;

      const worker = async (workerId: string) => {
        for (;;) {
          const claimed = await claimJobs(
            db,
            claimJobsInput.parse({ workerId, limit: 10, leaseSeconds: 60 }),
          );
          if (claimed.length === 0) return;
          for (const job of claimed) {
            if (held.has(job.id)) doubleHeld += 1;
            held.add(job.id);
          }
          const count = (id: string) => completions.set(id, (completions.get(id) ?? 0) + 1);
          if (together) {
            const done = await completeJobs(db, {
              jobs: claimed.map((job) => ({
                id: job.id,
                leaseToken: job.leaseToken!,
                result: { by: workerId },
              })),
            });
            for (const job of done.completed) count(job.id);
            rejected += done.rejected.length;
          } else {
            for (const job of claimed) {
              await completeJob(db, {
                id: job.id,
                leaseToken: job.leaseToken!,
                result: { by: workerId },
              }).then(
                () => count(job.id),
                () => (rejected += 1),
              );
            }
          }
          for (const job of claimed) held.delete(job.id);
        }
      };
      const started = Date.now();
      await Promise.all(Array.from({ length: workers }, (_, index) => worker(`worker-${index}`)));
      const seconds = (Date.now() - started) / 1_000;
      console.info(
        `${workers} workers, ${completing}: 5000 jobs claimed and completed in ${seconds.toFixed(2)} s (${(5_000 / seconds).toFixed(0)} jobs/s)`,
      );

      expect(doubleHeld).toBe(0);
      expect(rejected).toBe(0);
      expect(completions.size).toBe(5_000);
      expect([...completions.values()].every((count) => count === 1)).toBe(true);
      expect(new Set(enqueued.map((job) => job.id))).toEqual(new Set(completions.keys()));
      const progress = await sessionProgress(db, session.id);
      expect(progress).toMatchObject({
        total: 5_000,
        completed: 5_000,
        percentDone: 100,
        processedVideos: 5_000,
      });
      // How fast it drains is the bench's to measure; this limit only catches a drain that hangs.
    }, 180_000);
  }

  it('hands an expired lease to another worker and rejects the stale worker’s completion', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const [job] = await enqueueForChannels(1, session.id);
    const [first] = await claimJobs(
      db,
      claimJobsInput.parse({ workerId: 'slow', limit: 1, leaseSeconds: 1 }),
    );
    expect(first?.id).toBe(job!.id);
    expect(
      await claimJobs(db, claimJobsInput.parse({ workerId: 'eager', limit: 1, leaseSeconds: 60 })),
    ).toEqual([]);
    await sleep(1_100);
    const [second] = await claimJobs(
      db,
      claimJobsInput.parse({ workerId: 'fast', limit: 1, leaseSeconds: 60 }),
    );
    expect(second).toMatchObject({ id: job!.id, attempts: 2, lockedBy: 'fast' });

    await expect(
      completeJob(db, { id: job!.id, leaseToken: first!.leaseToken!, result: 'stale' }),
    ).rejects.toBeInstanceOf(ConflictError);
    await expect(
      failJob(db, {
        id: job!.id,
        leaseToken: first!.leaseToken!,
        error: 'x',
        retryable: true,
      }),
    ).rejects.toBeInstanceOf(ConflictError);
    const done = await completeJob(db, {
      id: job!.id,
      leaseToken: second!.leaseToken!,
      result: 'fresh',
    });
    expect(done.result).toBe('fresh');
    expect((await sessionProgress(db, session.id)).processedVideos).toBe(1);
  });

  it('retries at increasing delays and fails for good when attempts run out', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const [job] = await enqueueForChannels(1, session.id, 4);
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt += 1) {
      const [claimed] = await claimJobs(
        db,
        claimJobsInput.parse({ workerId: 'w', limit: 1, leaseSeconds: 60 }),
      );
      expect(claimed).toMatchObject({ id: job!.id, attempts: attempt });
      const failed = await failJob(db, {
        id: job!.id,
        leaseToken: claimed!.leaseToken!,
        error: `attempt ${attempt}`,
        retryable: true,
      });
      if (attempt < 4) {
        expect(failed.status).toBe('queued');
        delays.push((failed.runAfter.getTime() - failed.updatedAt.getTime()) / 1_000);
        expect(await claimJobs(db, claimJobsInput.parse({ workerId: 'w', limit: 1 }))).toEqual([]);
        // Time passes: the retry becomes due.
        await db('processing_jobs').where({ id: job!.id }).update({ run_after: db.fn.now() });
      } else {
        expect(failed).toMatchObject({ status: 'failed', errorMessage: 'attempt 4' });
      }
    }
    expect(delays[0]).toBeGreaterThanOrEqual(retryBaseSeconds * 0.8 - 0.01);
    expect(delays[1]!).toBeGreaterThan(delays[0]!);
    expect(delays[2]!).toBeGreaterThan(delays[1]!);
  });

  it('fails a job whose lease expired on its last attempt instead of running it again', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const [job] = await enqueueForChannels(1, session.id, 1);
    await claimJobs(db, claimJobsInput.parse({ workerId: 'doomed', limit: 1, leaseSeconds: 1 }));
    await sleep(1_100);
    expect(await claimJobs(db, claimJobsInput.parse({ workerId: 'next', limit: 1 }))).toEqual([]);
    const progress = await sessionProgress(db, session.id);
    expect(progress).toMatchObject({ failed: 1, running: 0 });
    expect(await testDatabase().db('processing_jobs').where({ id: job!.id }).first()).toMatchObject({
      status: 'failed',
      attempts: 1,
      lease_token: null,
    });
  });

  it('leaves one consistent outcome when a cancel races a complete', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const channel = await channelFactory.create();
    const videos = await videoFactory.createList(40, { channelId: channel.id });
    await enqueueJobs(
      db,
      videos.map((v) => ({
        jobType: 'transcript_extraction',
        entityType: 'video',
        entityId: v.id,
        sessionId: session.id,
      })),
    );
    const claimed = await claimJobs(
      db,
      claimJobsInput.parse({ workerId: 'racer', limit: 40, leaseSeconds: 60 }),
    );
    expect(claimed).toHaveLength(40);
    const outcomes = await Promise.all(
      claimed.map(async (job) => {
        const [cancel, complete] = await Promise.allSettled([
          cancelJob(db, job.id),
          completeJob(db, { id: job.id, leaseToken: job.leaseToken! }),
        ]);
        return { job, cancelled: cancel.status === 'fulfilled', completed: complete.status === 'fulfilled' };
      }),
    );
    for (const outcome of outcomes) expect(outcome.cancelled !== outcome.completed).toBe(true);
    const rows = await db('processing_jobs')
      .whereIn(
        'id',
        claimed.map((j) => j.id),
      )
      .select('id', 'status');
    const status = new Map(rows.map((row: { id: string; status: string }) => [row.id, row.status]));
    for (const outcome of outcomes)
      expect(status.get(outcome.job.id)).toBe(outcome.completed ? 'completed' : 'cancelled');
    const completedCount = outcomes.filter((o) => o.completed).length;
    expect((await sessionProgress(db, session.id)).processedVideos).toBe(completedCount);
  });

  it('drains jobs through HTTP with 8 concurrent workers, each job completed once', async () => {
    const session = await processingSessionFactory.trait('running').create();
    await enqueueForChannels(200, session.id);
    const completions = new Map<string, number>();
    const worker = async (workerId: string) => {
      for (;;) {
        const claimed = await api.mutate<ClaimedJob[]>('jobs.claim', { workerId, limit: 5 });
        expect(claimed.status).toBe(200);
        if (claimed.data.length === 0) return;
        for (const job of claimed.data) {
          const done = await api.mutate('jobs.complete', { id: job.id, leaseToken: job.leaseToken });
          expect(done.status).toBe(200);
          completions.set(job.id, (completions.get(job.id) ?? 0) + 1);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => worker(`http-${i}`)));
    expect(completions.size).toBe(200);
    expect([...completions.values()].every((count) => count === 1)).toBe(true);
  }, 60_000);
});
