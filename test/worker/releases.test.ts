import { afterEach, describe, expect, it } from 'vitest';
import type { TaskHelpers } from '../../src/client';
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

/** Stops a worker at `url` whose handler gives up as the stop aborts it, after `onAbort`; returns its hooks' reports. */
async function stopWhileRunning(
  url: string,
  onAbort: (jobId: string) => Promise<void> = async () => undefined,
) {
  const seen = { released: [] as string[], leaseLost: [] as string[] };
  let running = 0;
  const giveUp = (jobId: string, { signal }: TaskHelpers) =>
    new Promise<never>((_, reject) =>
      signal.addEventListener('abort', () => void onAbort(jobId).then(() => reject(signal.reason))),
    );
  const worker = createTestWorker({
    url,
    concurrency: 1,
    waitMs: 200,
    graceMs: 0,
    tasks: {
      channel_discovery: (job, helpers) => {
        running += 1;
        return giveUp(job.id, helpers);
      },
    },
    hooks: {
      released: (jobs) => seen.released.push(...jobs.map((job) => job.id)),
      leaseLost: (job) => seen.leaseLost.push(job.id),
    },
  });
  try {
    worker.start();
    await until(() => running === 1);
    await worker.stop();
  } finally {
    await worker.stop();
  }
  return seen;
}

describe('a worker releasing a job as it stops', () => {
  it('reports the job released when the API ran the release before the connection reset', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    let reset = false;
    proxy.decide = (request) => {
      if (reset || jobIdsOf(request, 'jobs.release').length === 0) return 'pass';
      reset = true;
      return 'reset-after';
    };
    const seen = await stopWhileRunning(proxy.url);

    expect(reset).toBe(true);
    expect(seen).toEqual({ released: [job!.id], leaseLost: [] });
    expect(await jobRow(job!.id)).toMatchObject({ status: 'queued', attempts: 0, lease_token: null });
  });

  it('reports neither a release nor a lost lease when the job was cancelled before its release arrived', async () => {
    const [job] = await discoveryJobs(1);
    const seen = await stopWhileRunning(api.url, async (jobId) => {
      await testDatabase()
        .db('processing_jobs')
        .where({ id: jobId })
        .update({ status: 'cancelled', lease_token: null, lease_expires_at: null });
    });

    expect(seen).toEqual({ released: [], leaseLost: [] });
    expect(await jobRow(job!.id)).toMatchObject({ status: 'cancelled' });
  });
});

describe('a worker releasing a job that waited too long to start', () => {
  it('keeps the job’s lease while its release is refused, so the job goes back unspent, not by running out', async () => {
    const [first, second] = await discoveryJobs(2);
    proxy = await startFaultyProxy(api.url);
    let firstReleaseAt: number | undefined;
    // Releases are refused with 503 for three seconds, past the end of the three-second lease as claimed.
    proxy.decide = (request) => {
      if (jobIdsOf(request, 'jobs.release').length === 0) return 'pass';
      firstReleaseAt ??= Date.now();
      return Date.now() - firstReleaseAt < 3_000 ? 'unavailable' : 'pass';
    };
    let open: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const started: string[] = [];
    const busy = createTestWorker({
      url: proxy.url,
      workerId: 'busy',
      concurrency: 1,
      prefetch: 1,
      leaseSeconds: 3,
      waitMs: 200,
      tasks: {
        channel_discovery: async (job) => {
          started.push(job.id);
          await opened;
          return null;
        },
      },
    });
    const idle = createTestWorker({
      url: api.url,
      workerId: 'idle',
      concurrency: 1,
      waitMs: 10_000,
      leaseSeconds: 3,
      tasks: { channel_discovery: () => null },
    });
    try {
      busy.start();
      await until(() => started.length === 1);
      const waiting = started[0] === first!.id ? second! : first!;
      await until(async () => (await jobRow(waiting.id)).locked_by === 'busy');
      idle.start();
      await until(async () => (await jobRow(waiting.id)).status === 'completed', 15_000);
      // Released by the busy worker, its attempt unspent, then run once by the idle one.
      expect(await jobRow(waiting.id)).toMatchObject({ locked_by: 'idle', attempts: 1 });
      expect(firstReleaseAt).toBeDefined();
    } finally {
      open();
      await Promise.all([busy.stop(), idle.stop()]);
    }
  }, 30_000);

  it('reports neither a release nor a lost lease when the job was cancelled while it waited', async () => {
    const [first, second] = await discoveryJobs(2);
    let open: () => void = () => undefined;
    const opened = new Promise<void>((resolve) => (open = resolve));
    const started: string[] = [];
    const seen = { released: [] as string[], leaseLost: [] as string[] };
    // In front of the API only to see the release go and its response come back.
    proxy = await startFaultyProxy(api.url);
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      prefetch: 1,
      // The job waiting for the busy slot is released a second after its claim.
      leaseSeconds: 3,
      waitMs: 200,
      tasks: {
        channel_discovery: async (job) => {
          started.push(job.id);
          await opened;
          return null;
        },
      },
      hooks: {
        released: (jobs) => seen.released.push(...jobs.map((job) => job.id)),
        leaseLost: (job) => seen.leaseLost.push(job.id),
      },
    });
    try {
      worker.start();
      await until(() => started.length === 1);
      const waiting = started[0] === first!.id ? second! : first!;
      await testDatabase()
        .db('processing_jobs')
        .where({ id: waiting.id })
        .update({ status: 'cancelled', lease_token: null, lease_expires_at: null });
      // The worker sends its release a second after the claim, and the API rejects it.
      await until(() =>
        proxy!.requests.some(
          (request) =>
            jobIdsOf(request, 'jobs.release').includes(waiting.id) && request.respondedAt !== undefined,
        ),
      );
      // A moment for the worker to read the response.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen).toEqual({ released: [], leaseLost: [] });
      expect(await jobRow(waiting.id)).toMatchObject({ status: 'cancelled' });
    } finally {
      open();
      await worker.stop();
    }
  });
});
