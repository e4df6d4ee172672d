import type { Knex } from 'knex';
import type { ProcessingJob } from '../schemas/processing-job';
import { toJob } from './job-rows';
import { retryLostRaces } from '../services/lost-races';

/**
 * Enqueues one discovery job for each of up to `batchSize` due, active channels (src/queue/sql/enqueue_due_discoveries.sql: a
 * channel is due `processingConfig.discoverEveryHours` after its last check), oldest due first. Safe to run from
 * several processes at once: each due channel is enqueued by one of them.
 */
export async function enqueueDueDiscoveries(db: Knex, batchSize: number): Promise<ProcessingJob[]> {
  const { rows } = await retryLostRaces(() =>
    db.raw<{ rows: Record<string, unknown>[] }>('SELECT * FROM enqueue_due_discoveries(?)', [batchSize]),
  );
  return rows.map(toJob);
}

/**
 * Deletes up to `batchSize` jobs that finished (completed, failed or cancelled) before `finishedBefore`, oldest
 * first; returns how many. A pruned job still counts in its session's progress.
 */
export async function pruneFinishedJobs(db: Knex, finishedBefore: Date, batchSize: number): Promise<number> {
  const { rows } = await retryLostRaces(() =>
    db.raw<{ rows: { pruned: number }[] }>('SELECT prune_finished_jobs(?, ?) AS pruned', [
      finishedBefore,
      batchSize,
    ]),
  );
  return rows[0]!.pruned;
}
