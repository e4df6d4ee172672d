import { onTestFinished } from 'vitest';
import { createWorker, type Worker, type WorkerOptions } from '../../src/client';

/**
 * `createWorker`, stopped when the test ends even if an expectation failed midway: a worker left running would
 * take a later test's jobs, and one failure would show as many. Call it inside a test.
 */
export function createTestWorker(options: WorkerOptions): Worker {
  const worker = createWorker(options);
  onTestFinished(() => worker.stop());
  return worker;
}
