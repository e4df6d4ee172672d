import { claimJobsInput } from '../../src/schemas/processing-job';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { createClient } from '../../src/client';
import { JobWakeups } from '../../src/db/job-wakeups';
import { processingJobFactory, videoFactory } from '../../src/factories';
import { claimJobs, enqueueJobs, releaseJob } from '../../src/services/job-queue';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;
let wakeups: JobWakeups;
let server: FastifyInstance;
let url: string;

beforeAll(async () => {
  wakeups = new JobWakeups(testDatabase().url);
  server = await buildApp({ db: db(), logger: false, tokens: [], production: false });
  url = await server.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await wakeups.close();
  await server.close();
});
// Claims take any runnable job of the database: each test starts from an empty queue.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

const waiting = (waitMs: number) => {
  const started = performance.now();
  return claimJobs(db(), claimJobsInput.parse({ workerId: 'waiter', waitMs }), wakeups).then((jobs) => ({
    jobs,
    ms: performance.now() - started,
  }));
};

describe('a claim that waits for work', () => {
  it('answers as soon as a job is enqueued, not at the end of its wait', async () => {
    const video = await videoFactory.create();
    const claim = waiting(10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const enqueuedAt = performance.now();
    const [job] = await enqueueJobs(db(), [
      { jobType: 'transcript_extraction', entityType: 'video', entityId: video.id },
    ]);
    const { jobs } = await claim;
    const latency = performance.now() - enqueuedAt;
    expect(jobs.map((claimed) => claimed.id)).toEqual([job!.id]);
    expect(latency).toBeLessThan(1_000);
  });

  it('answers empty at the end of its wait when nothing comes', async () => {
    const { jobs, ms } = await waiting(400);
    expect(jobs).toEqual([]);
    expect(ms).toBeGreaterThanOrEqual(390);
    expect(ms).toBeLessThan(2_000);
  });

  it('takes a retry when it falls due, and a lease when it runs out, with no notification', async () => {
    const due = await processingJobFactory.create({ runAfter: new Date(Date.now() + 600) });
    const first = await waiting(5_000);
    expect(first.jobs.map((job) => job.id)).toEqual([due.id]);
    expect(first.ms).toBeGreaterThan(450);

    await db()('processing_jobs')
      .where({ id: due.id })
      .update({ lease_expires_at: new Date(Date.now() + 600) });
    const second = await waiting(5_000);
    expect(second.jobs).toMatchObject([{ id: due.id, attempts: 2 }]);
    expect(second.ms).toBeGreaterThan(450);
  });

  it('stops waiting when its HTTP caller goes away, and leaves later jobs to others', async () => {
    const controller = new AbortController();
    const api = createClient({ url });
    const gone = api.jobs.claim.mutate({ workerId: 'gone', waitMs: 10_000 }, { signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 300));
    controller.abort();
    await expect(gone).rejects.toThrow();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const job = await processingJobFactory.create();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await db()('processing_jobs').where({ id: job.id }).first()).toMatchObject({ status: 'queued' });
  });

  it('hands back, unspent, what it leased for a caller that went away while the claim ran', async () => {
    const job = await processingJobFactory.create();
    const controller = new AbortController();
    controller.abort();
    expect(
      await claimJobs(db(), claimJobsInput.parse({ workerId: 'gone' }), wakeups, controller.signal),
    ).toEqual([]);
    expect(await db()('processing_jobs').where({ id: job.id }).first()).toMatchObject({
      status: 'queued',
      attempts: 0,
      locked_by: null,
      lease_token: null,
    });
  });
});

describe('the listening connection', () => {
  it('wakes the waiting claims when it is lost, and listens again on the next wait', async () => {
    const listener = new JobWakeups(testDatabase().url);
    const seen = listener.seen();
    const waiting = listener.waitAfter(seen, Date.now() + 10_000, undefined);
    // Listening by now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    await db().raw(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND query = 'LISTEN processing_jobs_claimable'`,
    );
    const started = performance.now();
    await waiting;
    expect(performance.now() - started).toBeLessThan(5_000);
    // Listening again: an enqueue wakes the next wait.
    const next = listener.seen();
    const again = listener.waitAfter(next, Date.now() + 10_000, undefined);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await processingJobFactory.create();
    const woken = performance.now();
    await again;
    expect(performance.now() - woken).toBeLessThan(1_000);
    expect(listener.seen()).toBeGreaterThan(next);
    await listener.close();
    expect(listener.closed).toBe(true);
  });
});

describe('releasing a claimed job', () => {
  it('queues it again at once, its attempt not spent and its video queued, for any worker', async () => {
    const video = await videoFactory.create();
    await enqueueJobs(db(), [{ jobType: 'transcript_extraction', entityType: 'video', entityId: video.id }]);
    const [claimed] = await claimJobs(db(), claimJobsInput.parse({ workerId: 'stopping' }));
    expect(claimed).toMatchObject({ attempts: 1 });
    const released = await releaseJob(db(), { id: claimed!.id, leaseToken: claimed!.leaseToken! });
    expect(released).toMatchObject({ status: 'queued', attempts: 0, leaseToken: null, lockedBy: null });
    expect((await db()('videos').where({ id: video.id }).first()).status).toBe('queued');
    const [again] = await claimJobs(db(), claimJobsInput.parse({ workerId: 'next' }));
    expect(again).toMatchObject({ id: claimed!.id, attempts: 1, lockedBy: 'next' });
    await expect(
      releaseJob(db(), { id: claimed!.id, leaseToken: claimed!.leaseToken! }),
    ).rejects.toMatchObject({
      field: 'leaseToken',
    });
  });
});
