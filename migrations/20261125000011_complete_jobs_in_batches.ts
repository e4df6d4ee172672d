import type { Knex } from 'knex';

/*
 * Completion takes a batch: a worker that claimed ten jobs records them in one call instead of ten. One function
 * serves both, so `complete_job` (migration 20261125000009) goes. Several jobs of a batch may share a session,
 * so the session's count grows by its number of jobs in the batch: an UPDATE joined to `done` directly would
 * apply once per session row.
 */

/** `complete_job` as migration 20261125000009 created it, restored on the way down. */
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
    CREATE FUNCTION complete_jobs(job_keys uuid[], job_lease_tokens uuid[], job_results jsonb[],
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
    DROP FUNCTION complete_job(uuid, uuid, jsonb, video_status[]);
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`${completeJobFunction}
    DROP FUNCTION complete_jobs(uuid[], uuid[], jsonb[], video_status[]);`);
}
