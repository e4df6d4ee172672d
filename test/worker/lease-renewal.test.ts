import { afterEach, describe, expect, it } from 'vitest';
import { createWorker } from '../../src/client';
import { type FaultyProxy, jobIdsOf, startFaultyProxy } from '../support/faulty-proxy';
import { until } from '../support/until';
import { discoveryJobs, jobRow, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/**
 * Runs one job whose handler takes `workMs` (longer than a lease) through a worker calling the API through the
 * proxy, while a second worker waits for work at the API itself: the API wakes a waiting claim the moment a lease
 * runs out, so any lapse of the first worker's lease hands the job to the second.
 */
async function longJobBesideAnotherWorker(workMs: number, leaseSeconds: number) {
  const [job] = await discoveryJobs(1, 3);
  let aborted = false;
  const leaseLost: string[] = [];
  const errors: Error[] = [];
  const worker = createWorker({
    url: proxy!.url,
    concurrency: 1,
    waitMs: 200,
    leaseSeconds,
    tasks: {
      channel_discovery: async (_job, { signal }) => {
        signal.addEventListener('abort', () => (aborted = true));
        await new Promise((resolve) => setTimeout(resolve, workMs));
        return { ok: true };
      },
    },
    hooks: { leaseLost: (lost) => leaseLost.push(lost.id), error: (error) => errors.push(error) },
  });
  const takenOver: string[] = [];
  const other = createWorker({
    url: api.url,
    concurrency: 1,
    waitMs: 10_000,
    leaseSeconds,
    tasks: {
      channel_discovery: (claimed) => {
        takenOver.push(claimed.id);
        return null;
      },
    },
  });
  worker.start();
  await until(async () => (await jobRow(job!.id)).status === 'running');
  other.start();
  await until(async () => (await jobRow(job!.id)).status !== 'running', workMs + 10_000);
  await Promise.all([worker.stop(), other.stop()]);
  const heartbeats = proxy!.requests.filter((request) =>
    jobIdsOf(request, 'jobs.heartbeat').includes(job!.id),
  );
  return { job: job!, aborted, leaseLost, errors, takenOver, heartbeats };
}

describe('a worker renewing its leases', () => {
  it('renews a running job’s lease every third of it, so a job running past its lease is never taken over', async () => {
    proxy = await startFaultyProxy(api.url);
    const run = await longJobBesideAnotherWorker(5_000, 2);

    expect(run.takenOver).toEqual([]);
    expect(run.aborted).toBe(false);
    expect(run.leaseLost).toEqual([]);
    expect(await jobRow(run.job.id)).toMatchObject({
      status: 'completed',
      attempts: 1,
      result: { ok: true },
    });
    // Five seconds at a renewal per two-thirds of a second: seven, where one per lease would make two.
    expect(run.heartbeats.length).toBeGreaterThanOrEqual(5);
  }, 30_000);

  it('keeps a lease whose renewals fail for a network reason, trying again well before it runs out', async () => {
    proxy = await startFaultyProxy(api.url);
    let renewals = 0;
    // Two renewal calls of every three fail: 503 as the database restarts, then a reset connection.
    proxy.decide = ({ calls }) =>
      calls.some((call) => call.procedure === 'jobs.heartbeat')
        ? (['unavailable', 'reset', 'pass'] as const)[renewals++ % 3]!
        : 'pass';
    const run = await longJobBesideAnotherWorker(6_000, 3);

    expect(run.takenOver).toEqual([]);
    expect(run.aborted).toBe(false);
    expect(run.leaseLost).toEqual([]);
    expect(await jobRow(run.job.id)).toMatchObject({ status: 'completed', attempts: 1 });
    expect(run.heartbeats.filter((request) => request.fault !== 'pass').length).toBeGreaterThanOrEqual(2);
    expect(run.errors.length).toBeGreaterThanOrEqual(2);
  }, 30_000);
});
