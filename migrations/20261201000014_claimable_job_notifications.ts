import type { Knex } from 'knex';

/*
 * Claims that wait for work. Every statement that leaves a job queued (an enqueue, a retry, a release) sends a
 * notification on `processing_jobs_claimable` when it commits, so an API process with waiting claims runs them
 * again at once, whichever process wrote the job. (A job queued for later wakes them too, and they go back to
 * sleep: `run_after` is stored to the millisecond, so "due now" cannot be told exactly inside the statement.)
 * Jobs that become claimable by time alone (a retry's `run_after`, an expiring lease) send nothing: a waiting
 * claim sleeps until the next such moment, which the partial index on `run_after` of queued jobs and the lease
 * indexes give in one index probe each.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION notify_claimable_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM new_jobs WHERE status = 'queued') THEN
        PERFORM pg_notify('processing_jobs_claimable', '');
      END IF;
      RETURN NULL;
    END
    $$;
    CREATE TRIGGER processing_jobs_notify_inserted AFTER INSERT ON processing_jobs
      REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION notify_claimable_jobs();
    CREATE TRIGGER processing_jobs_notify_updated AFTER UPDATE ON processing_jobs
      REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION notify_claimable_jobs();

    CREATE INDEX processing_jobs_scheduled_idx ON processing_jobs (run_after) WHERE status = 'queued';
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP INDEX processing_jobs_scheduled_idx;
    DROP TRIGGER processing_jobs_notify_updated ON processing_jobs;
    DROP TRIGGER processing_jobs_notify_inserted ON processing_jobs;
    DROP FUNCTION notify_claimable_jobs();
  `);
}
