import type { Knex } from 'knex';
import { type JobStatus, jobStatuses, type JobType, jobTypes } from '../schemas/processing-job';
import { type QueueOverview, throughputMinutes } from '../schemas/queue-overview';
import { readJobCounts } from './job-counts';

/** The most workers an overview lists. */
const maxWorkers = 200;

/**
 * The dashboard's overview. Each figure reads an index range, not the jobs table: counts from the deltas the
 * jobs' triggers keep, the oldest due job from the scheduled index's first entry, throughput and workers from the
 * last hour of the finished index and the running one. Its cost follows the last hour's work, whatever the size
 * of the history.
 */
export async function readOverview(db: Knex): Promise<QueueOverview> {
  // The minutes before the current one that the throughput lists, and whose finished jobs it reads.
  const minutesBefore = throughputMinutes - 1;
  const [counted, oldest, minutes, workers] = await Promise.all([
    readJobCounts(db),
    db('processing_jobs')
      .where('status', 'queued')
      .whereRaw('NOT held')
      .where('run_after', '<=', db.fn.now())
      .orderBy('run_after')
      .first<{ id: string; job_type: JobType; run_after: Date; created_at: Date } | undefined>(
        'id',
        'job_type',
        'run_after',
        'created_at',
      ),
    // One range scan of the finished index, then every minute listed, those when nothing finished included.
    db.raw<{ rows: { at: Date; minute: Date; completed: number; failed: number; cancelled: number }[] }>(
      `WITH finished AS (
         SELECT date_trunc('minute', completed_at) AS minute,
                count(*) FILTER (WHERE status = 'completed')::int AS completed,
                count(*) FILTER (WHERE status = 'failed')::int AS failed,
                count(*) FILTER (WHERE status = 'cancelled')::int AS cancelled
           FROM processing_jobs
          WHERE status IN ('completed', 'failed', 'cancelled')
            AND completed_at >= date_trunc('minute', now()) - make_interval(mins => ?)
          GROUP BY 1)
       SELECT now() AS at, minute, coalesce(finished.completed, 0) AS completed,
              coalesce(finished.failed, 0) AS failed, coalesce(finished.cancelled, 0) AS cancelled
         FROM generate_series(date_trunc('minute', now()) - make_interval(mins => ?), date_trunc('minute', now()),
                              interval '1 minute') AS minute
         LEFT JOIN finished USING (minute)
        ORDER BY minute`,
      [minutesBefore, minutesBefore],
    ),
    // A job a worker finished keeps its `locked_by`; a cancelled one was ended by an admin, not by the worker.
    db.raw<{ rows: { worker_id: string; running: number; finished: number; last_seen_at: Date }[] }>(
      `SELECT locked_by AS worker_id,
              count(*) FILTER (WHERE status = 'running')::int AS running,
              count(*) FILTER (WHERE status <> 'running')::int AS finished,
              max(updated_at) AS last_seen_at
         FROM (SELECT locked_by, status, updated_at FROM processing_jobs WHERE status = 'running'
               UNION ALL
               SELECT locked_by, status, updated_at FROM processing_jobs
                WHERE status IN ('completed', 'failed') AND completed_at >= now() - interval '1 hour') seen
        WHERE locked_by IS NOT NULL
        GROUP BY locked_by ORDER BY last_seen_at DESC, locked_by LIMIT ?`,
      [maxWorkers],
    ),
  ]);
  const jobs = new Map(counted.map((row) => [`${row.jobType}/${row.status}`, row.jobs]));
  return {
    at: minutes.rows[0]!.at,
    counts: jobTypes.flatMap((jobType) =>
      jobStatuses.map((status: JobStatus) => ({
        jobType,
        status,
        jobs: jobs.get(`${jobType}/${status}`) ?? 0,
      })),
    ),
    oldestDue: oldest
      ? { id: oldest.id, jobType: oldest.job_type, runAfter: oldest.run_after, createdAt: oldest.created_at }
      : null,
    throughput: minutes.rows.map(({ minute, completed, failed, cancelled }) => ({
      minute,
      completed,
      failed,
      cancelled,
    })),
    workers: workers.rows.map((row) => ({
      workerId: row.worker_id,
      running: row.running,
      finishedLastHour: row.finished,
      lastSeenAt: row.last_seen_at,
    })),
  };
}
