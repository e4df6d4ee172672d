import type { Knex } from 'knex';

/*
 * The claim reads what the rest of the data says.
 * - Job types become rows of `job_types`: what each is about and, optionally, how many of its jobs may run at
 *   once across all workers (`max_running`, unset for no limit). Adding a type is one INSERT in a migration; the
 *   claim takes whatever types the table lists. `processing_jobs.job_type` is text with a foreign key to the
 *   (type, entity) pair, which replaces the CHECK that listed the pairs.
 * - A paused session holds its jobs: `held` marks its queued and running jobs, the claim's indexes leave held
 *   jobs out, and resuming clears the mark. A job entering `queued` in a session (enqueued, retried, released)
 *   takes the session's state under a share lock, so it cannot slip past a pause committing at the same time: in
 *   a paused session it is held, in a completed or failed one it is cancelled, and a new job for a finished
 *   session is refused. A job that finishes or leaves its session is held by nothing.
 * - A limited type's claim locks its `job_types` row (NO KEY UPDATE, which enqueues' foreign key checks do not
 *   wait for), then counts the type's running jobs with live leases in a statement of its own, whose snapshot
 *   sees every claim that held the lock before. So concurrent claims of a type never exceed its limit. Claims
 *   of unlimited types lock nothing more than before.
 * - The claim looks for each type's jobs on its own (an index led by the type): a worker that takes one type
 *   no longer reads past every queued job of the others.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION claim_jobs(text, job_type[], integer, double precision, video_status[], video_status[]);

    CREATE TABLE job_types (
      name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
      entity_type job_entity_type NOT NULL,
      max_running integer CHECK (max_running >= 0),
      updated_at  timestamptz(3) NOT NULL DEFAULT now(),
      CONSTRAINT job_types_name_entity_type_key UNIQUE (name, entity_type)
    );
    CREATE TRIGGER job_types_set_updated_at BEFORE UPDATE ON job_types
      FOR EACH ROW EXECUTE FUNCTION set_updated_at();
    INSERT INTO job_types (name, entity_type)
    VALUES ('channel_discovery', 'channel'), ('transcript_extraction', 'video');

    ALTER TABLE processing_jobs DROP CONSTRAINT processing_jobs_type_matches_entity;
    ALTER TABLE processing_jobs ALTER COLUMN job_type TYPE text USING job_type::text;
    DROP TYPE job_type;
    ALTER TABLE processing_jobs ADD CONSTRAINT processing_jobs_job_type_fkey
      FOREIGN KEY (job_type, entity_type) REFERENCES job_types (name, entity_type);

    ALTER TABLE processing_jobs ADD COLUMN held boolean NOT NULL DEFAULT false,
      ADD CONSTRAINT processing_jobs_held_by_a_session CHECK (NOT held OR session_id IS NOT NULL);

    DROP INDEX processing_jobs_runnable_idx;
    CREATE INDEX processing_jobs_runnable_idx
      ON processing_jobs (job_type, priority DESC, created_at, id) INCLUDE (run_after)
      WHERE status = 'queued' AND NOT held;
    DROP INDEX processing_jobs_scheduled_idx;
    CREATE INDEX processing_jobs_scheduled_idx ON processing_jobs (run_after) WHERE status = 'queued' AND NOT held;
    CREATE INDEX processing_jobs_running_type_idx
      ON processing_jobs (job_type, lease_expires_at) WHERE status = 'running';

    CREATE FUNCTION follow_job_session() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      session_status session_status;
    BEGIN
      SELECT status INTO session_status FROM processing_sessions WHERE id = NEW.session_id FOR SHARE;
      IF session_status IN ('completed', 'failed') AND NEW.status = 'queued' THEN
        IF TG_OP = 'INSERT' THEN
          RAISE EXCEPTION 'session % is %', NEW.session_id, session_status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'processing_jobs_session_is_open',
                  TABLE = 'processing_jobs';
        END IF;
        NEW.status := 'cancelled';
        NEW.completed_at := now();
        NEW.lease_token := NULL;
        NEW.lease_expires_at := NULL;
        NEW.held := false;
      ELSE
        NEW.held := session_status IS NOT DISTINCT FROM 'paused';
      END IF;
      RETURN NEW;
    END
    $$;
    CREATE TRIGGER processing_jobs_follow_session_inserted BEFORE INSERT ON processing_jobs
      FOR EACH ROW WHEN (NEW.session_id IS NOT NULL AND NEW.status IN ('queued', 'running'))
      EXECUTE FUNCTION follow_job_session();
    CREATE TRIGGER processing_jobs_follow_session_updated BEFORE UPDATE OF status, session_id ON processing_jobs
      FOR EACH ROW WHEN (NEW.session_id IS NOT NULL AND (
                           (NEW.status = 'queued' AND OLD.status <> 'queued')
                           OR (NEW.status IN ('queued', 'running') AND OLD.session_id IS DISTINCT FROM NEW.session_id)))
      EXECUTE FUNCTION follow_job_session();

    -- A job that leaves its session (detached, or the session deleted) or finishes is held by nothing.
    CREATE FUNCTION release_job_hold() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.held := false;
      RETURN NEW;
    END
    $$;
    CREATE TRIGGER processing_jobs_release_hold BEFORE UPDATE ON processing_jobs
      FOR EACH ROW WHEN (NEW.held AND (NEW.session_id IS NULL OR NEW.status NOT IN ('queued', 'running')))
      EXECUTE FUNCTION release_job_hold();

    CREATE OR REPLACE FUNCTION notify_claimable_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- Queued and not held; or a limited type's job that stopped running, which frees a place under its limit.
      IF EXISTS (SELECT 1 FROM new_jobs WHERE status = 'queued' AND NOT held)
         OR EXISTS (SELECT 1 FROM new_jobs n JOIN job_types t ON t.name = n.job_type
                     WHERE n.status <> 'running' AND t.max_running IS NOT NULL) THEN
        PERFORM pg_notify('processing_jobs_claimable', '');
      END IF;
      RETURN NULL;
    END
    $$;

    CREATE FUNCTION claim_jobs(claim_worker text, claim_types text[], claim_limit integer,
                               claim_lease_seconds double precision, video_starts_from video_status[],
                               video_fails_from video_status[])
    RETURNS SETOF processing_jobs LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
    DECLARE
      type_names text[];
      type_caps integer[];
    BEGIN
      -- Leases that expired on their last attempt fail, and their videos with them.
      WITH exhausted AS (
        UPDATE processing_jobs
           SET status = 'failed', completed_at = now(), lease_token = NULL, lease_expires_at = NULL,
               error_message = coalesce(error_message || ' / ', '') || 'lease expired on the last attempt'
         WHERE id IN (SELECT id FROM processing_jobs
                       WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
                       ORDER BY lease_expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)
        RETURNING entity_type, entity_id, error_message
      )
      UPDATE videos SET status = 'failed', error_message = exhausted.error_message, retry_count = retry_count + 1
        FROM exhausted
       WHERE exhausted.entity_type = 'video' AND videos.id = exhausted.entity_id
         AND videos.status = ANY(video_fails_from);

      -- Limited types in name order, each locked until this claim commits; then, in a new snapshot, the room
      -- each type has: the claim's limit, or less under a running limit (live leases counted up to the limit).
      PERFORM 1 FROM job_types
        WHERE max_running IS NOT NULL AND (claim_types IS NULL OR name = ANY(claim_types))
        ORDER BY name FOR NO KEY UPDATE;
      SELECT coalesce(array_agg(t.name ORDER BY t.name), '{}'),
             coalesce(array_agg(CASE WHEN t.max_running IS NULL THEN claim_limit
                                     ELSE least(claim_limit, greatest(0, t.max_running - (
                                       SELECT count(*) FROM (
                                         SELECT 1 FROM processing_jobs j
                                          WHERE j.status = 'running' AND j.job_type = t.name AND j.lease_expires_at >= now()
                                          LIMIT t.max_running) live))::integer) END
                                ORDER BY t.name), '{}')
        INTO type_names, type_caps
        FROM job_types t
       WHERE claim_types IS NULL OR t.name = ANY(claim_types);

      RETURN QUERY
      WITH candidates AS (
        -- Each type's best queued and expired-lease jobs, up to its room, each scan on an index of its own type.
        SELECT g.name, g.cap, c.id, c.priority, c.created_at
          FROM (SELECT * FROM unnest(type_names, type_caps) AS t (name, cap) WHERE t.cap > 0) g
         CROSS JOIN LATERAL (
           SELECT * FROM (
             SELECT id, priority, created_at FROM processing_jobs
              WHERE status = 'queued' AND NOT held AND run_after <= now() AND job_type = g.name
              ORDER BY priority DESC, created_at, id
              LIMIT g.cap FOR UPDATE SKIP LOCKED) queued
           UNION ALL
           SELECT * FROM (
             SELECT id, priority, created_at FROM processing_jobs
              WHERE status = 'running' AND NOT held AND lease_expires_at < now() AND attempts < max_attempts
                AND job_type = g.name
              ORDER BY lease_expires_at
              LIMIT g.cap FOR UPDATE SKIP LOCKED) expired
         ) c
      ), chosen AS (
        SELECT id FROM (
          SELECT id, priority, created_at, cap,
                 row_number() OVER (PARTITION BY name ORDER BY priority DESC, created_at, id) AS nth
            FROM candidates) ranked
         WHERE nth <= cap
         ORDER BY priority DESC, created_at, id
         LIMIT claim_limit
      ), claimed AS (
        UPDATE processing_jobs AS job
           SET status = 'running', attempts = job.attempts + 1, locked_by = claim_worker, locked_at = now(),
               lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => claim_lease_seconds),
               started_at = coalesce(job.started_at, now())
          FROM chosen WHERE job.id = chosen.id
        RETURNING job.*
      ), videos_started AS (
        UPDATE videos SET status = 'processing'
          FROM claimed
         WHERE claimed.entity_type = 'video' AND videos.id = claimed.entity_id
           AND videos.status = ANY(video_starts_from)
      )
      SELECT * FROM claimed;
    END
    $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION claim_jobs(text, text[], integer, double precision, video_status[], video_status[]);
    CREATE OR REPLACE FUNCTION notify_claimable_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF EXISTS (SELECT 1 FROM new_jobs WHERE status = 'queued') THEN
        PERFORM pg_notify('processing_jobs_claimable', '');
      END IF;
      RETURN NULL;
    END
    $$;
    DROP TRIGGER processing_jobs_release_hold ON processing_jobs;
    DROP FUNCTION release_job_hold();
    DROP TRIGGER processing_jobs_follow_session_updated ON processing_jobs;
    DROP TRIGGER processing_jobs_follow_session_inserted ON processing_jobs;
    DROP FUNCTION follow_job_session();

    DROP INDEX processing_jobs_running_type_idx;
    DROP INDEX processing_jobs_scheduled_idx;
    CREATE INDEX processing_jobs_scheduled_idx ON processing_jobs (run_after) WHERE status = 'queued';
    DROP INDEX processing_jobs_runnable_idx;
    CREATE INDEX processing_jobs_runnable_idx
      ON processing_jobs (priority DESC, created_at, id) INCLUDE (job_type, run_after) WHERE status = 'queued';
    ALTER TABLE processing_jobs DROP CONSTRAINT processing_jobs_held_by_a_session, DROP COLUMN held;

    ALTER TABLE processing_jobs DROP CONSTRAINT processing_jobs_job_type_fkey;
    CREATE TYPE job_type AS ENUM ('channel_discovery', 'transcript_extraction');
    ALTER TABLE processing_jobs ALTER COLUMN job_type TYPE job_type USING job_type::job_type;
    ALTER TABLE processing_jobs ADD CONSTRAINT processing_jobs_type_matches_entity
      CHECK ((job_type, entity_type) IN (('channel_discovery', 'channel'), ('transcript_extraction', 'video')));
    DROP TABLE job_types;

    CREATE FUNCTION claim_jobs(claim_worker text, claim_types job_type[], claim_limit integer,
                               claim_lease_seconds double precision, video_starts_from video_status[],
                               video_fails_from video_status[])
    RETURNS SETOF processing_jobs LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
    BEGIN
      RETURN QUERY
      WITH exhausted AS (
        UPDATE processing_jobs
           SET status = 'failed', completed_at = now(), lease_token = NULL, lease_expires_at = NULL,
               error_message = coalesce(error_message || ' / ', '') || 'lease expired on the last attempt'
         WHERE id IN (SELECT id FROM processing_jobs
                       WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
                       ORDER BY lease_expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)
        RETURNING entity_type, entity_id, error_message
      ), videos_failed AS (
        UPDATE videos SET status = 'failed', error_message = exhausted.error_message, retry_count = retry_count + 1
          FROM exhausted
         WHERE exhausted.entity_type = 'video' AND videos.id = exhausted.entity_id
           AND videos.status = ANY(video_fails_from)
      ), queued AS (
        SELECT id, priority, created_at FROM processing_jobs
         WHERE status = 'queued' AND run_after <= now() AND (claim_types IS NULL OR job_type = ANY(claim_types))
         ORDER BY priority DESC, created_at, id
         LIMIT claim_limit FOR UPDATE SKIP LOCKED
      ), expired AS (
        SELECT id, priority, created_at FROM processing_jobs
         WHERE status = 'running' AND lease_expires_at < now() AND attempts < max_attempts
           AND (claim_types IS NULL OR job_type = ANY(claim_types))
         ORDER BY lease_expires_at
         LIMIT claim_limit FOR UPDATE SKIP LOCKED
      ), chosen AS (
        SELECT id FROM (SELECT * FROM expired UNION ALL SELECT * FROM queued) candidates
         ORDER BY priority DESC, created_at, id
         LIMIT claim_limit
      ), claimed AS (
        UPDATE processing_jobs AS job
           SET status = 'running', attempts = job.attempts + 1, locked_by = claim_worker, locked_at = now(),
               lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => claim_lease_seconds),
               started_at = coalesce(job.started_at, now())
          FROM chosen WHERE job.id = chosen.id
        RETURNING job.*
      ), videos_started AS (
        UPDATE videos SET status = 'processing'
          FROM claimed
         WHERE claimed.entity_type = 'video' AND videos.id = claimed.entity_id
           AND videos.status = ANY(video_starts_from)
      )
      SELECT * FROM claimed;
    END
    $$;
  `);
}
