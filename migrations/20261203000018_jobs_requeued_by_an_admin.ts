import type { Knex } from 'knex';

/*
 * A lease token is a capability: whoever reads it can act as the worker holding the job, so no response but the
 * claim's carries it, and an admin takes a job from a stuck worker with `jobs.requeue` instead of with its token.
 * The job records the last such requeue: when, who (as the admin named themself), from which worker and why.
 * The three an admin gives or the server stamps are set together or not at all; the worker is whatever the job's
 * `locked_by` was. A requeue is rare and read with its job, so no index.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE processing_jobs
      ADD COLUMN requeued_at timestamptz(3),
      ADD COLUMN requeued_by text,
      ADD COLUMN requeued_from text,
      ADD COLUMN requeue_reason text,
      ADD CONSTRAINT processing_jobs_requeue_recorded_whole
        CHECK ((requeued_at IS NULL) = (requeued_by IS NULL) AND (requeued_at IS NULL) = (requeue_reason IS NULL));
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE processing_jobs
      DROP CONSTRAINT processing_jobs_requeue_recorded_whole,
      DROP COLUMN requeue_reason,
      DROP COLUMN requeued_from,
      DROP COLUMN requeued_by,
      DROP COLUMN requeued_at;
  `);
}
