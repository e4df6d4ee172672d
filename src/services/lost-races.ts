import { setTimeout as sleep } from 'node:timers/promises';
import { transientAttempts, transientCode, transientRetries } from './database-errors';

/** The pause doubles from 20 ms up to 640 ms at most: nine pauses of ten runs come to 1.6 s on average. */
const backoffDoublings = 6;

/**
 * Runs a write again from the start when it lost a race (a deadlock, a serialization failure, a lock timeout), up
 * to `transientAttempts` times with a growing, jittered pause, so concurrent writers see a result instead of an
 * error; `work` must therefore build its queries (and its transaction) itself. Any other failure, and the last
 * lost race, is rethrown as it is: the API translates it once, at its edge (`api/error-mapping.ts`).
 */
export async function retryLostRaces<T>(work: () => PromiseLike<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      const transient = transientCode(error);
      if (transient === undefined || attempt >= transientAttempts) throw error;
      transientRetries.set(transient, (transientRetries.get(transient) ?? 0) + 1);
      await sleep(Math.random() * 10 * 2 ** Math.min(attempt, backoffDoublings));
    }
  }
}
