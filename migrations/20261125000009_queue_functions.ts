import type { Knex } from 'knex';

/*
 * The queue's claim and completion as PL/pgSQL functions that plan their statement once per connection.
 * PostgreSQL re-planned the claim on every call as a prepared statement: its generic plan, costed without the
 * actual LIMIT, loses the plan cache's comparison to the custom plans, so each call paid the planner again (about
 * a quarter of the server's CPU per job). `SET plan_cache_mode = force_generic_plan` on the functions keeps one plan
 * and applies to their own statements only; the list queries keep planning with their parameters.
 *
 * The statements are the ones the services sent before: see `claimJobs` and `completeJob` in
 * src/services/job-queue.ts for what each step means. Which video statuses a job may move a video from stay the
 * services' to pass, from the transition table in src/schemas/video.ts.
 */

/** `complete_job` as created here; migration 20261125000011 replaces it and restores it on the way down. */
const completeJobFunction = `
    CREATE FUNCTION complete_job(job_key uuid, job_lease_token uuid, job_result jsonb,
                                 video_completes_from video_status[])
    RETURNS SETOF processing_jobs LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
    BEGIN
      RETURN QUERY
      WITH done AS (
        UPDATE processing_jobs
           SET status = 'completed', result = job_result, completed_at = now(), error_message = NULL,
               lease_token = NULL, lease_expires_at = NULL
         WHERE id = job_key AND status = 'running' AND lease_token = job_lease_token
        RETURNING *
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
        UPDATE processing_sessions SET processed_videos = processed_videos + 1
          FROM done
         WHERE processing_sessions.id = done.session_id
      )
      SELECT * FROM done;
    END
    $$;`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
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

    ${completeJobFunction}
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION complete_job(uuid, uuid, jsonb, video_status[]);
    DROP FUNCTION claim_jobs(text, job_type[], integer, double precision, video_status[]);
  `);
}
