import { afterEach, describe, expect, it } from 'vitest';
import { createTestWorker } from '../support/test-worker';
import { testDatabase } from '../support/database';
import { type FaultyProxy, jobIdsOf, startFaultyProxy } from '../support/faulty-proxy';
import { until } from '../support/until';
import { discoveryJobs, jobRow, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

describe('a worker holding a finished job’s result', () => {
  it('reports the job’s lease lost once when a renewal is rejected while the result waits to be delivered, and records no result', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    let cancelled = false;
    let renewedSinceCancel = false;
    // Every completion fails on the way until a renewal has gone out after the cancel: the renewal is the first
    // call to learn that the job is no longer the worker's.
    proxy.decide = (request) => {
      if (cancelled && jobIdsOf(request, 'jobs.heartbeat').includes(job!.id)) renewedSinceCancel = true;
      return jobIdsOf(request, 'jobs.completeMany').includes(job!.id) && !renewedSinceCancel
        ? 'reset'
        : 'pass';
    };
    const lost: { id: string; reason: string }[] = [];
    const completed: string[] = [];
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 200,
      leaseSeconds: 3,
      tasks: { channel_discovery: () => ({ by: 'the worker' }) },
      hooks: {
        leaseLost: (lostJob, reason) => lost.push({ id: lostJob.id, reason }),
        completed: (done) => completed.push(done.id),
      },
    });
    try {
      worker.start();
      await until(() => proxy!.requests.some((request) => jobIdsOf(request, 'jobs.completeMany').length > 0));
      // An admin cancels the job while its result waits to be delivered.
      await testDatabase()
        .db('processing_jobs')
        .where({ id: job!.id })
        .update({ status: 'cancelled', lease_token: null, lease_expires_at: null });
      cancelled = true;
      await until(() => lost.length > 0);
      await worker.stop();
    } finally {
      await worker.stop();
    }

    expect(renewedSinceCancel).toBe(true);
    expect(lost.map(({ id }) => id)).toEqual([job!.id]);
    expect(completed).toEqual([]);
    expect(await jobRow(job!.id)).toMatchObject({ status: 'cancelled', result: null });
  });

  it('sends the result at once when a renewal is rejected, rather than when the failed call’s retry-after says', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    // Far longer than the test waits: the result goes out before then only if the rejected renewal sends it.
    proxy.retryAfter = '60';
    let cancelled = false;
    proxy.decide = (request) =>
      !cancelled && jobIdsOf(request, 'jobs.completeMany').includes(job!.id) ? 'unavailable' : 'pass';
    const lost: string[] = [];
    const errors: Error[] = [];
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 200,
      leaseSeconds: 3,
      drainMs: 500,
      tasks: { channel_discovery: () => ({ by: 'the worker' }) },
      hooks: { leaseLost: (lostJob) => lost.push(lostJob.id), error: (error) => errors.push(error) },
    });
    try {
      worker.start();
      await until(() => errors.length > 0);
      await testDatabase()
        .db('processing_jobs')
        .where({ id: job!.id })
        .update({ status: 'cancelled', lease_token: null, lease_expires_at: null });
      cancelled = true;
      await until(() => lost.length > 0, 10_000);
      await worker.stop();
    } finally {
      await worker.stop();
    }

    expect(lost).toEqual([job!.id]);
    const completions = proxy.requests.filter((request) =>
      jobIdsOf(request, 'jobs.completeMany').includes(job!.id),
    );
    expect(completions.map((request) => request.fault)).toEqual(['unavailable', 'pass']);
  });
});
