import { createWorker } from '../../src/worker';

/**
 * A worker process whose handler never finishes: it tells its parent which job it started, then waits to be
 * killed. Run by the worker process tests with API_URL set.
 */
const worker = createWorker({
  url: process.env.API_URL!,
  concurrency: 1,
  leaseSeconds: Number(process.env.LEASE_SECONDS ?? 3),
  waitMs: 5_000,
  tasks: {
    channel_discovery: (job) =>
      new Promise(() => {
        process.send?.({ started: job.id });
      }),
  },
});
worker.start();
