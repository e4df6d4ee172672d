import type { Knex } from 'knex';

/*
 * What an outside client found drifting, made exact by the schema itself:
 * - A job's type says what it is about: discovery is about a channel, transcript extraction about a video. A CHECK
 *   lists the allowed pairs; a new job type adds its pair here.
 * - `processed_videos` equals the session's completed jobs under every write: it is kept by the same triggers that
 *   keep the per-status counts, so deleting a job, deleting its channel or moving it to another session moves the
 *   count too. `complete_jobs` stops adding to it itself, and existing sessions are counted again.
 * - A job whose lease expired on its last attempt fails its video too, as a failure reported by a worker does;
 *   `claim_jobs` takes the statuses a video may fail from, like the ones it may start from.
 * - Confidence scores keep the precision they are given: `real` kept seven digits.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE transcripts ALTER COLUMN confidence_score TYPE double precision;

    ALTER TABLE processing_jobs ADD CONSTRAINT processing_jobs_type_matches_entity
      CHECK ((job_type, entity_type) IN (('channel_discovery', 'channel'), ('transcript_extraction', 'video')));

    CREATE OR REPLACE FUNCTION add_session_job_counts(session_ids uuid[], statuses job_status[], deltas integer[])
    RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      completed record;
    BEGIN
      INSERT INTO processing_session_job_counts AS counts (session_id, status, shard, jobs)
      SELECT c.session_id, c.status, pg_backend_pid() % 16, sum(c.delta)
        FROM unnest(session_ids, statuses, deltas) AS c (session_id, status, delta)
       WHERE c.session_id IS NOT NULL
         AND EXISTS (SELECT 1 FROM processing_sessions s WHERE s.id = c.session_id)
       GROUP BY c.session_id, c.status
      HAVING sum(c.delta) <> 0
       ORDER BY c.session_id, c.status
      ON CONFLICT (session_id, status, shard) DO UPDATE SET jobs = counts.jobs + excluded.jobs;

      -- One session at a time in id order, so statements completing jobs of the same sessions cannot deadlock.
      FOR completed IN
        SELECT c.session_id, sum(c.delta)::integer AS delta
          FROM unnest(session_ids, statuses, deltas) AS c (session_id, status, delta)
         WHERE c.status = 'completed' AND c.session_id IS NOT NULL
         GROUP BY c.session_id HAVING sum(c.delta) <> 0
         ORDER BY c.session_id
      LOOP
        UPDATE processing_sessions SET processed_videos = processed_videos + completed.delta
         WHERE id = completed.session_id;
      END LOOP;
    END
    $$;

    UPDATE processing_sessions AS s
       SET processed_videos = coalesce((SELECT sum(jobs) FROM processing_session_job_counts c
                                          WHERE c.session_id = s.id AND c.status = 'completed'), 0)::integer;

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

    DROP FUNCTION claim_jobs(text, job_type[], integer, double precision, video_status[]);
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

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION claim_jobs(text, job_type[], integer, double precision, video_status[], video_status[]);
    CREATE FUNCTION claim_jobs(claim_worker text, claim_types job_type[], claim_limit integer,
                               claim_lease_seconds double precision, video_starts_from video_status[])
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
      ), session AS (
        UPDATE processing_sessions SET processed_videos = processed_videos + counted.jobs
          FROM (SELECT session_id, count(*)::integer AS jobs FROM done GROUP BY session_id) AS counted
         WHERE processing_sessions.id = counted.session_id
      )
      SELECT * FROM done;
    END
    $$;

    CREATE OR REPLACE FUNCTION add_session_job_counts(session_ids uuid[], statuses job_status[], deltas integer[])
    RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO processing_session_job_counts AS counts (session_id, status, shard, jobs)
      SELECT c.session_id, c.status, pg_backend_pid() % 16, sum(c.delta)
        FROM unnest(session_ids, statuses, deltas) AS c (session_id, status, delta)
       WHERE c.session_id IS NOT NULL
         AND EXISTS (SELECT 1 FROM processing_sessions s WHERE s.id = c.session_id)
       GROUP BY c.session_id, c.status
      HAVING sum(c.delta) <> 0
       ORDER BY c.session_id, c.status
      ON CONFLICT (session_id, status, shard) DO UPDATE SET jobs = counts.jobs + excluded.jobs;
    END
    $$;

    ALTER TABLE processing_jobs DROP CONSTRAINT processing_jobs_type_matches_entity;
    ALTER TABLE transcripts ALTER COLUMN confidence_score TYPE real;
  `);
}
