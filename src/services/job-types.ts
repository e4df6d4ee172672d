import type { Knex } from 'knex';
import type { z } from 'zod';
import { fromColumns } from '../models/columns';
import {
  type JobType,
  type JobTypeSettings,
  jobTypeSettingsSchema,
  type setJobTypeLimitInput,
} from '../schemas/processing-job';
import { NotFoundError } from './errors';
import { retryLostRaces } from './lost-races';

/**
 * The job types the queue knows (rows of the table `job_types`, src/db/schema.sql), each with its limits, its
 * budget, how many of its jobs run now (live leases, as the claim counts them) and how many may start now under
 * its rate (src/queue/sql/refilled_tokens.sql).
 */
async function jobTypeRows(db: Knex, jobType?: JobType): Promise<JobTypeSettings[]> {
  const rows = await db('job_types AS t')
    .modify((query) => {
      if (jobType) query.where('t.name', jobType);
    })
    .orderBy('t.name')
    .select(
      't.name AS job_type',
      't.entity_type',
      't.max_running',
      't.budget',
      't.budget_cost',
      't.max_starts',
      't.per_seconds',
      db.raw(
        'refilled_tokens(t.start_tokens, t.tokens_at, t.max_starts, t.per_seconds, now()) AS start_tokens',
      ),
      db.raw('CASE WHEN t.cooldown_until > now() THEN t.cooldown_until END AS cooldown_until'),
      't.updated_at',
      db.raw(
        `(SELECT count(*)::integer FROM processing_jobs j
             WHERE j.status = 'running' AND j.job_type = t.name AND j.lease_expires_at >= now()) AS running`,
      ),
    );
  return rows.map((row: Record<string, unknown>) => jobTypeSettingsSchema.parse(fromColumns(row)));
}

export const listJobTypes = (db: Knex): Promise<JobTypeSettings[]> => jobTypeRows(db);

/** One job type's settings, as `listJobTypes` shows them; a type the queue does not know is not found. */
export async function jobTypeSettings(db: Knex, jobType: JobType): Promise<JobTypeSettings> {
  const [settings] = await jobTypeRows(db, jobType);
  if (!settings) throw new NotFoundError('job type', jobType, 'jobType');
  return settings;
}

/** Sets how many jobs of a type may run at once; claims that start after it commits obey it. */
export async function setJobTypeLimit(
  db: Knex,
  input: z.output<typeof setJobTypeLimitInput>,
): Promise<JobTypeSettings> {
  const updated = await retryLostRaces(() =>
    db('job_types').where('name', input.jobType).update({ max_running: input.maxRunning }),
  );
  if (updated === 0) throw new NotFoundError('job type', input.jobType);
  return jobTypeSettings(db, input.jobType);
}
