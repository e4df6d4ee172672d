import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import { type QueueResult, queueResult } from './queue';
import type { BenchHandler } from './worker';

const silent = new Logger(() => () => undefined);

/**
 * The peer: graphile-worker on the same database, `concurrency` workers in one process, running the same number of
 * jobs with the same handler and its defaults (one job per fetch, no local queue).
 */
export async function drainGraphileWorker(
  connectionString: string,
  count: number,
  concurrency: number,
  poolSize: number,
  handler: BenchHandler,
): Promise<QueueResult> {
  const utils = await makeWorkerUtils({ connectionString, logger: silent });
  await utils.migrate();
  for (let start = 0; start < count; start += 500) {
    const size = Math.min(500, count - start);
    await utils.addJobs(
      Array.from({ length: size }, (_, index) => ({ identifier: 'noop', payload: { n: start + index } })),
    );
  }
  await utils.release();

  const runs = new Map<number, number>();
  let allRan: () => void = () => undefined;
  const ran = new Promise<void>((resolve) => (allRan = resolve));
  const started = performance.now();
  const runner = await run({
    connectionString,
    concurrency,
    maxPoolSize: poolSize,
    noHandleSignals: true,
    logger: silent,
    taskList: {
      noop: async (payload) => {
        const n = (payload as { n: number }).n;
        runs.set(n, (runs.get(n) ?? 0) + 1);
        if (runs.size === count) allRan();
        await handler.work();
      },
    },
  });
  await ran;
  // Stopping waits for the last jobs to be marked done, as our workers' last completions are.
  await runner.stop();
  return queueResult(runs, (performance.now() - started) / 1_000);
}
