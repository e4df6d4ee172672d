import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import os from 'node:os';
import { type ClaimedJob, LeaseLostError, PermanentJobError, type WorkerHooks } from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { claimJobsInput } from '../../src/schemas/processing-job';
import { claimJobs, completeJob } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';
import { until } from '../support/until';
import { discoveryJobs, jobRow, useWorkerApi } from '../support/worker-api';

let claimRequests = 0;
const api = useWorkerApi({
  onRequest: (url) => {
    if (url.includes('jobs.claim')) claimRequests += 1;
  },
});

/**
 * Another worker takes a job over once its lease has run out: in one transaction, so a renewal the first worker
 * sends meanwhile waits for the take-over and is rejected, instead of renewing the lease in between.
 */
async function takeOver(jobId: string) {
  const [takenOver] = await testDatabase().db.transaction(async (trx) => {
    await trx('processing_jobs')
      .where({ id: jobId })
      .update({ lease_expires_at: new Date(Date.now() - 1_000) });
    return claimJobs(trx, claimJobsInput.parse({ workerId: 'other' }));
  });
  expect(takenOver?.id).toBe(jobId);
  return takenOver!;
}

describe('a worker running jobs', () => {
  it('runs up to `concurrency` handlers at once, claiming no more than its slots and its local queue hold, and completes every job once', async () => {
    const jobs = await discoveryJobs(40);
    let running = 0;
    let most = 0;
    const claimSizes: number[] = [];
    const seen = new Map<string, number>();
    const worker = createTestWorker({
      url: api.url,
      concurrency: 8,
      waitMs: 200,
      tasks: {
        channel_discovery: async (job) => {
          seen.set(job.id, (seen.get(job.id) ?? 0) + 1);
          running += 1;
          most = Math.max(most, running);
          await new Promise((resolve) => setTimeout(resolve, 30));
          running -= 1;
          return { ok: true };
        },
      },
      hooks: { claimed: (claimed) => claimSizes.push(claimed.length) },
    });
    worker.start();
    await until(
      async () =>
        (await testDatabase().db('processing_jobs').where({ status: 'completed' }).count())[0]!.count == 40,
    );
    await worker.stop();
    expect(most).toBe(8);
    // Eight slots and, by default, a local queue as large.
    expect(Math.max(...claimSizes)).toBeLessThanOrEqual(16);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(seen.size).toBe(jobs.length);
    expect(await jobRow(jobs[0]!.id)).toMatchObject({ status: 'completed', result: { ok: true } });
  });

  it('fails a throwing handler’s job with its message, to be retried, and a PermanentJobError for good', async () => {
    const [retried, permanent] = await discoveryJobs(2);
    const failed: { job: ClaimedJob; permanent: boolean }[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 2,
      waitMs: 200,
      tasks: {
        channel_discovery: (job) => {
          if (job.id === permanent!.id) throw new PermanentJobError('channel is gone');
          throw new Error('quota exceeded');
        },
      },
      hooks: { failed: (job, _error, isPermanent) => failed.push({ job, permanent: isPermanent }) },
    });
    worker.start();
    await until(() => failed.length >= 2);
    await worker.stop();
    expect(await jobRow(retried!.id)).toMatchObject({
      status: 'queued',
      attempts: 1,
      error_message: 'quota exceeded',
    });
    expect(await jobRow(permanent!.id)).toMatchObject({
      status: 'failed',
      attempts: 1,
      error_message: 'channel is gone',
    });
  });

  it('aborts a handler whose lease is taken over, reports it once, and never records its result', async () => {
    const [job] = await discoveryJobs(1);
    const lost: string[] = [];
    let aborted = false;
    let started = false;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      leaseSeconds: 3,
      waitMs: 200,
      tasks: {
        channel_discovery: async (_job, { signal }) => {
          started = true;
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          aborted = true;
          return { by: 'the stale worker' };
        },
      },
      hooks: { leaseLost: (lostJob) => lost.push(lostJob.id) },
    });
    worker.start();
    await until(() => started);
    const takenOver = await takeOver(job!.id);
    await until(() => aborted, 5_000);
    await completeJob(testDatabase().db, {
      id: takenOver!.id,
      leaseToken: takenOver!.leaseToken!,
      result: { by: 'the other worker' },
    });
    await worker.stop();
    expect(lost).toEqual([job!.id]);
    expect(await jobRow(job!.id)).toMatchObject({ status: 'completed', result: { by: 'the other worker' } });
  });

  it('aborts the handler of a job taken over with a LeaseLostError when the worker has no hooks', async () => {
    await discoveryJobs(1);
    let started: ClaimedJob | undefined;
    let reason: unknown;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      leaseSeconds: 3,
      waitMs: 200,
      tasks: {
        channel_discovery: async (job, { signal }) => {
          started = job;
          await new Promise((resolve) => signal.addEventListener('abort', resolve));
          reason = signal.reason;
          return null;
        },
      },
    });
    try {
      worker.start();
      await until(() => started !== undefined);
      await takeOver(started!.id);
      await until(() => reason !== undefined, 5_000);
    } finally {
      await worker.stop();
    }
    expect(reason).toBeInstanceOf(LeaseLostError);
  });

  it('counts the handlers running at the moment', async () => {
    await discoveryJobs(5);
    let open: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    let completed = 0;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 3,
      waitMs: 200,
      tasks: { channel_discovery: () => opened.then(() => null) },
      hooks: { completed: () => (completed += 1) },
    });
    try {
      expect(worker.running).toBe(0);
      worker.start();
      await until(() => worker.running === 3);
      open();
      await until(() => completed === 5);
      expect(worker.running).toBe(0);
    } finally {
      open();
      await worker.stop();
    }
  });

  it('names itself by its host and process, with a short random suffix, when given no id', () => {
    const options = { url: api.url, concurrency: 1, tasks: { channel_discovery: () => null } };
    const [first, second] = [createTestWorker(options), createTestWorker(options)];
    const host = os.hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(first.workerId).toMatch(new RegExp(`^${host}-${process.pid}-[0-9a-f]{8}$`));
    expect(second.workerId).not.toBe(first.workerId);
  });

  it('reports a lease lost at completion or failure once, and records neither the result nor the failure', async () => {
    const [completing, failing] = await discoveryJobs(2);
    const lost: string[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 2,
      waitMs: 200,
      tasks: {
        channel_discovery: async (job) => {
          // An admin cancels the job while its handler runs.
          await testDatabase()
            .db('processing_jobs')
            .where({ id: job.id })
            .update({ status: 'cancelled', lease_token: null, lease_expires_at: null });
          if (job.id === failing!.id) throw new Error('too late to matter');
          return { by: 'the worker' };
        },
      },
      hooks: { leaseLost: (job) => lost.push(job.id) },
    });
    worker.start();
    await until(() => lost.length === 2);
    await worker.stop();
    expect(lost.sort()).toEqual([completing!.id, failing!.id].sort());
    expect(await jobRow(completing!.id)).toMatchObject({ status: 'cancelled', result: null });
    expect(await jobRow(failing!.id)).toMatchObject({ status: 'cancelled', error_message: null });
  });

  it('reports calls that fail for other reasons and keeps trying, backing off, until the API responds', async () => {
    const gone = await buildApp({ db: testDatabase().db, logger: false, tokens: [], production: false });
    const goneUrl = await gone.listen({ host: '127.0.0.1', port: 0 });
    await gone.close();
    const errors: Error[] = [];
    const worker = createTestWorker({
      url: goneUrl,
      concurrency: 1,
      tasks: { channel_discovery: () => null },
      hooks: { error: (error) => errors.push(error) },
    });
    worker.start();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await worker.stop();
    // 250 ms, then 500 ms: a few attempts, not a tight loop.
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(errors.length).toBeLessThanOrEqual(4);
    expect(errors[0]).toMatchObject({ code: 'TRANSPORT_ERROR' });
  });

  it('rejects to start without a task', () => {
    expect(() => createTestWorker({ url: api.url, concurrency: 1, tasks: {} }).start()).toThrow(
      /no job type/,
    );
  });

  it('costs one request per wait when idle, not a steady stream', async () => {
    const hooks: WorkerHooks = {};
    const worker = createTestWorker({
      url: api.url,
      concurrency: 4,
      waitMs: 1_000,
      tasks: { channel_discovery: () => null },
      hooks,
    });
    const before = claimRequests;
    worker.start();
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await worker.stop();
    expect(claimRequests - before).toBeGreaterThanOrEqual(2);
    expect(claimRequests - before).toBeLessThanOrEqual(4);
  });
});
