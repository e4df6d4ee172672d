import { afterEach, describe, expect, it } from 'vitest';
import { createWorker, type TaskHelpers } from '../../src/client';
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
  const worker = createWorker({
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
