import type { Knex } from 'knex';

/*
 * The claim and the batch completion lock rows in the project's one order (src/services/lock-order.ts): jobs by
 * (type, entity), then videos by YouTube id. PostgreSQL locks the rows an UPDATE changes in whatever order its
 * plan reaches them, so two statements over the same rows in different plans could wait on each other; here each
 * UPDATE changes only rows a sorted `FOR UPDATE` subquery has locked first.
 * - `complete_jobs` locks the given jobs in key order (an enqueue meets the same active jobs in that order through
 *   the one-active-job index), and their videos in YouTube id order (the order `videos.upsertMany` writes them).
 * - `claim_jobs` takes its jobs with SKIP LOCKED, so it never waits on a job, but it does wait on videos: it
 *   moves the videos of the jobs it starts, and of the leases it fails, in YouTube id order.
 * - A job entering a session's queue reads the session under a KEY SHARE lock instead of SHARE. An enqueue takes
 *   that lock as it inserts each row, between its job locks, so a SHARE lock there made it wait on, and block,
 *   every completion counting `processed_videos` on the same session (a NO KEY UPDATE): the two deadlocked
 *   whenever they met on the same jobs. KEY SHARE does not conflict with that update; a session transition that
 *   moves jobs now locks its session FOR UPDATE, which does conflict, so a pause still cannot pass a job
 *   entering its queue unseen (src/services/processing-sessions.ts).
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION claim_jobs(claim_worker text, claim_types text[], claim_limit integer,
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
         AND videos.id IN (SELECT v.id FROM videos v JOIN exhausted e ON e.entity_type = 'video' AND v.id = e.entity_id
                            WHERE v.status = ANY(video_fails_from)
                            ORDER BY v.youtube_video_id FOR NO KEY UPDATE OF v);

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
         WHERE videos.id IN (SELECT v.id FROM videos v JOIN claimed ON claimed.entity_type = 'video' AND v.id = claimed.entity_id
                              WHERE v.status = ANY(video_starts_from)
                              ORDER BY v.youtube_video_id FOR NO KEY UPDATE OF v)
      )
      SELECT * FROM claimed;
    END
    $$;

    CREATE OR REPLACE FUNCTION complete_jobs(job_keys uuid[], job_lease_tokens uuid[], job_results jsonb[],
                                             video_completes_from video_status[])
    RETURNS SETOF processing_jobs LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
    BEGIN
      RETURN QUERY
      WITH done AS (
        UPDATE processing_jobs AS job
           SET status = 'completed', result = given.result, completed_at = now(), error_message = NULL,
               lease_token = NULL, lease_expires_at = NULL
          FROM unnest(job_keys, job_lease_tokens, job_results) AS given (id, lease_token, result)
         WHERE job.id = given.id AND job.status = 'running' AND job.lease_token = given.lease_token
           AND job.id IN (SELECT id FROM processing_jobs WHERE id = ANY(job_keys)
                           ORDER BY job_type, entity_type, entity_id, id FOR UPDATE)
        RETURNING job.*
      ), video AS (
        UPDATE videos SET status = 'completed', processed_at = now(), error_message = NULL
         WHERE videos.id IN (SELECT v.id FROM videos v JOIN done ON done.entity_type = 'video' AND v.id = done.entity_id
                              WHERE v.status = ANY(video_completes_from)
                              ORDER BY v.youtube_video_id FOR NO KEY UPDATE OF v)
      ), channel AS (
        UPDATE channels SET last_checked_at = now()
          FROM done
         WHERE done.entity_type = 'channel' AND done.job_type = 'channel_discovery' AND channels.id = done.entity_id
      )
      SELECT * FROM done;
    END
    $$;

    CREATE OR REPLACE FUNCTION follow_job_session() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      session_status session_status;
    BEGIN
      SELECT status INTO session_status FROM processing_sessions WHERE id = NEW.session_id FOR KEY SHARE;
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
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION claim_jobs(claim_worker text, claim_types text[], claim_limit integer,
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

    CREATE OR REPLACE FUNCTION complete_jobs(job_keys uuid[], job_lease_tokens uuid[], job_results jsonb[],
                                             video_completes_from video_status[])
    RETURNS SETOF processing_jobs LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
    BEGIN
      RETURN QUERY
      WITH done AS (
        UPDATE processing_jobs AS job
           SET status = 'completed', result = given.result, completed_at = now(), error_message = NULL,
               lease_token = NULL, lease_expires_at = NULL
          FROM unnest(job_keys, job_lease_tokens, job_results) AS given (id, lease_token, result)
         WHERE job.id = given.id AND job.status = 'running' AND job.lease_token = given.lease_token
        RETURNING job.*
      ), video AS (
        UPDATE videos SET status = 'completed', processed_at = now(), error_message = NULL
          FROM done
         WHERE done.entity_type = 'video' AND videos.id = done.entity_id
           AND videos.status = ANY(video_completes_from)
      ), channel AS (
        UPDATE channels SET last_checked_at = now()
          FROM done
         WHERE done.entity_type = 'channel' AND done.job_type = 'channel_discovery' AND channels.id = done.entity_id
      )
      SELECT * FROM done;
    END
    $$;

    CREATE OR REPLACE FUNCTION follow_job_session() RETURNS trigger LANGUAGE plpgsql AS $$
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
  `);
}
