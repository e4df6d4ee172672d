import { describe, expect, it } from 'vitest';
import type { Undelivered } from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { until } from '../support/until';
import { discoveryJobs, jobRow, useWorkerApi } from '../support/worker-api';

const failCalls: string[] = [];
const api = useWorkerApi({
  onRequest: (url) => {
    if (url.includes('jobs.fail')) failCalls.push(url);
  },
});

describe('a worker whose report of a failure the API rejects', () => {
  it('says why and leaves the job to its lease, to be retried as if the worker had died, rather than sending the failure again', async () => {
    const [job] = await discoveryJobs(1);
    const errors: Error[] = [];
    const failed: string[] = [];
    const undelivered: Undelivered[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      waitMs: 200,
      tasks: {
        channel_discovery: (_job, helpers) => {
          // More units than a job can spend: the API rejects the report that carries them.
          helpers.spend(2_000_000);
          throw new Error('the channel feed timed out');
        },
      },
      hooks: {
        error: (error) => errors.push(error),
        failed: (failedJob) => failed.push(failedJob.id),
        undelivered: (left) => undelivered.push(...left),
      },
    });
    const before = failCalls.length;
    try {
      worker.start();
      await until(() => errors.length > 0);
      await worker.stop();
    } finally {
      await worker.stop();
    }

    expect(errors.map((error) => error.message)).toEqual([
      expect.stringMatching(new RegExp(`^the API rejected the failure of job ${job!.id}: `)),
    ]);
    expect(failCalls.length - before).toBe(1);
    expect(failed).toEqual([]);
    // Given up on, not held until the stop.
    expect(undelivered).toEqual([]);
    expect(await jobRow(job!.id)).toMatchObject({ status: 'running', attempts: 1, error_message: null });
  });
});
