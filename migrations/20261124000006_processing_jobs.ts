import type { Knex } from 'knex';

/*
 * The work queue. A job is about one channel or video (entity_type + entity_id); no foreign key can express
 * that, so triggers on channels and videos delete a deleted row's jobs, the same policy as CASCADE. Deleting a
 * session keeps its jobs as history (ON DELETE SET NULL).
 *
 * A claim gives the job a lease (locked_by, lease_token, lease_expires_at); only the current token may finish
 * it, and an expired lease is claimable again. At most one queued-or-running job exists per (type, entity),
 * enforced by a partial unique index. Claims read partial indexes: runnable queued jobs by priority then
 * age, and running jobs by lease expiry, split in two partial indexes: those with attempts left (claimable again)
 * and those on their last attempt (to be failed). A session's progress counts its jobs by status from an index.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TYPE job_type AS ENUM ('channel_discovery', 'transcript_extraction');
    CREATE TYPE job_status AS ENUM ('queued', 'running', 'completed', 'failed', 'cancelled');
    CREATE TYPE job_entity_type AS ENUM ('channel', 'video');

    CREATE TABLE processing_jobs (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      job_type         job_type NOT NULL,
      status           job_status NOT NULL DEFAULT 'queued',
      entity_type      job_entity_type NOT NULL,
      entity_id        uuid NOT NULL,
      session_id       uuid REFERENCES processing_sessions (id) ON DELETE SET NULL,
      priority         integer NOT NULL DEFAULT 0,
      attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
      run_after        timestamptz(3) NOT NULL DEFAULT now(),
      started_at       timestamptz(3),
      completed_at     timestamptz(3),
      error_message    text,
      metadata         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
      result           jsonb,
      locked_by        text,
      locked_at        timestamptz(3),
      lease_token      uuid,
      lease_expires_at timestamptz(3),
      created_at       timestamptz(3) NOT NULL DEFAULT now(),
      updated_at       timestamptz(3) NOT NULL DEFAULT now(),
      CONSTRAINT processing_jobs_attempts_within_max CHECK (attempts <= max_attempts),
      CONSTRAINT processing_jobs_running_has_lease
        CHECK (status <> 'running' OR (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
    );

    CREATE INDEX processing_jobs_entity_id_idx ON processing_jobs (entity_id);
    CREATE INDEX processing_jobs_status_created_at_id_idx ON processing_jobs (status, created_at DESC, id DESC);
    CREATE INDEX processing_jobs_job_type_created_at_id_idx ON processing_jobs (job_type, created_at DESC, id DESC);
    CREATE INDEX processing_jobs_created_at_id_idx ON processing_jobs (created_at DESC, id DESC);
    CREATE INDEX processing_jobs_session_id_created_at_id_idx
      ON processing_jobs (session_id, created_at DESC, id DESC) WHERE session_id IS NOT NULL;
    CREATE INDEX processing_jobs_session_id_status_idx
      ON processing_jobs (session_id, status) WHERE session_id IS NOT NULL;
    CREATE UNIQUE INDEX processing_jobs_one_active_per_entity
      ON processing_jobs (job_type, entity_type, entity_id) WHERE status IN ('queued', 'running');
    CREATE INDEX processing_jobs_runnable_idx
      ON processing_jobs (priority DESC, created_at, id) INCLUDE (job_type, run_after) WHERE status = 'queued';
    CREATE INDEX processing_jobs_reclaimable_idx
      ON processing_jobs (lease_expires_at) INCLUDE (job_type) WHERE status = 'running' AND attempts < max_attempts;
    CREATE INDEX processing_jobs_lease_exhausted_idx
      ON processing_jobs (lease_expires_at) WHERE status = 'running' AND attempts >= max_attempts;

    CREATE TRIGGER processing_jobs_set_updated_at BEFORE UPDATE ON processing_jobs
      FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE FUNCTION delete_jobs_of_deleted_entity() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM processing_jobs WHERE entity_type = TG_ARGV[0]::job_entity_type AND entity_id = OLD.id;
      RETURN OLD;
    END
    $$;
    CREATE TRIGGER channels_delete_jobs AFTER DELETE ON channels
      FOR EACH ROW EXECUTE FUNCTION delete_jobs_of_deleted_entity('channel');
    CREATE TRIGGER videos_delete_jobs AFTER DELETE ON videos
      FOR EACH ROW EXECUTE FUNCTION delete_jobs_of_deleted_entity('video');
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER videos_delete_jobs ON videos;
    DROP TRIGGER channels_delete_jobs ON channels;
    DROP FUNCTION delete_jobs_of_deleted_entity();
    DROP TABLE processing_jobs;
    DROP TYPE job_entity_type;
    DROP TYPE job_status;
    DROP TYPE job_type;
  `);
}
