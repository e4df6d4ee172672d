import { createWorker } from '../../src/worker';

/**
 * A worker process that stops as soon as its first job starts, and then does nothing more: the parent sees how long
 * the process lives on after `stop()` resolved. Prints `started <id>`, then `stopped`.
 */
const worker = createWorker({
  url: process.env.API_URL!,
  concurrency: 1,
  leaseSeconds: 60,
  waitMs: 20_000,
  tasks: {
    channel_discovery: async (job) => {
      console.log(`started ${job.id}`);
      void worker.stop().then(() => console.log('stopped'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      return { done: true };
    },
  },
});
worker.start();
