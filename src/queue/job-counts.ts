import type { Knex } from 'knex';
import type { JobStatus } from '../schemas/processing-job';
import { retryLostRaces } from '../services/lost-races';

/** Jobs of one type in one status, and the leases of that type that expired into it (`running` or `failed`). */
export interface JobCount {
  jobType: string;
  status: JobStatus;
  jobs: number;
  leaseExpiries: number;
}

/** Delta rows past which a read folds them into one per (type, status). */
export const foldJobCountsAbove = 1_000;

/**
 * Folds the delta rows into one per (type, status). Each row is deleted, and so summed, by one folder only; rows
 * that writers add meanwhile stay for the next fold.
 */
async function foldJobCounts(db: Knex): Promise<void> {
  await retryLostRaces(() =>
    db.raw(
      `WITH folded AS (DELETE FROM processing_job_counts RETURNING job_type, status, jobs, lease_expiries)
       INSERT INTO processing_job_counts (job_type, status, jobs, lease_expiries)
       SELECT job_type, status, sum(jobs), sum(lease_expiries) FROM folded GROUP BY job_type, status
       HAVING sum(jobs) <> 0 OR sum(lease_expiries) <> 0`,
    ),
  );
}

/**
 * Jobs by type and status, from the deltas the jobs' triggers keep (see the migration that made
 * `processing_job_counts`): a read sums a few hundred rows whatever the size of the jobs table.
 */
export async function readJobCounts(db: Knex): Promise<JobCount[]> {
  const { rows } = await db.raw<{
    rows: { job_type: string; status: JobStatus; jobs: string; lease_expiries: string; rows: string }[];
  }>(
    `SELECT job_type, status, sum(jobs) AS jobs, sum(lease_expiries) AS lease_expiries, count(*) AS rows
       FROM processing_job_counts GROUP BY job_type, status ORDER BY job_type, status`,
  );
  if (rows.reduce((sum, row) => sum + Number(row.rows), 0) > foldJobCountsAbove) await foldJobCounts(db);
  return rows.map((row) => ({
    jobType: row.job_type,
    status: row.status,
    jobs: Number(row.jobs),
    leaseExpiries: Number(row.lease_expiries),
  }));
}
