import type { Knex } from 'knex';
import { pruneFinishedJobs } from '../src/queue/schedules';

export interface TableSize {
  rows: number;
  megabytes: number;
}

const insertBatch = 100_000;

/**
 * Adds `count` jobs that completed 30 days ago or earlier, as a queue's history would pile up without pruning,
 * about videos that never existed (nothing reads them but the queue's indexes).
 */
export async function addFinishedJobs(db: Knex, count: number): Promise<void> {
  for (let done = 0; done < count; done += insertBatch) {
    await db.raw(
      `INSERT INTO processing_jobs (job_type, entity_type, entity_id, status, attempts, run_after, started_at,
                                    completed_at, created_at, result, rate_key)
       SELECT 'transcript_extraction', 'video', gen_random_uuid(), 'completed', 1, at - interval '2 minutes',
              at - interval '1 minute', at, at - interval '2 minutes', '{"ok": true}', 'channel:history'
         FROM (SELECT now() - interval '30 days' - make_interval(secs => i) AS at
                 FROM generate_series(1, ?) AS i) AS history`,
      [Math.min(insertBatch, count - done)],
    );
  }
  await db.raw('VACUUM (ANALYZE) processing_jobs');
}

/** Prunes every job finished over 14 days ago, a batch per call as the scheduler does. */
export async function pruneAll(db: Knex, batchSize: number): Promise<{ pruned: number; seconds: number }> {
  const cutoff = new Date(Date.now() - 14 * 86_400_000);
  const started = performance.now();
  let pruned = 0;
  for (;;) {
    const done = await pruneFinishedJobs(db, cutoff, batchSize);
    pruned += done;
    if (done < batchSize) break;
  }
  const seconds = (performance.now() - started) / 1_000;
  // What autovacuum does in its own time: the dead rows' space and index entries become reusable.
  await db.raw('VACUUM (ANALYZE) processing_jobs');
  return { pruned, seconds };
}

/** The jobs table's live rows and its size on disk, indexes included. */
export async function jobsTableSize(db: Knex): Promise<TableSize> {
  const { rows } = await db.raw<{ rows: { rows: number; bytes: number }[] }>(
    `SELECT (SELECT count(*) FROM processing_jobs)::integer AS rows,
            pg_total_relation_size('processing_jobs')::bigint AS bytes`,
  );
  return { rows: rows[0]!.rows, megabytes: rows[0]!.bytes / 2 ** 20 };
}
