CREATE OR REPLACE FUNCTION public.complete_jobs(job_keys uuid[], job_lease_tokens uuid[], job_results jsonb[], job_units integer[], video_completes_from video_status[])
 RETURNS SETOF processing_jobs
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
    BEGIN
      -- The jobs first, in one order, then their update: a lock taken in the update's own subquery was read again
      -- for every job of the batch (a nested loop over the sorted locks), a third of a completion's time.
      PERFORM 1 FROM processing_jobs WHERE id = ANY(job_keys) ORDER BY job_type, entity_type, entity_id, id FOR UPDATE;
      RETURN QUERY
      WITH done AS (
        UPDATE processing_jobs AS job
           SET status = 'completed', result = given.result, completed_at = now(), error_message = NULL,
               lease_token = NULL, lease_expires_at = NULL
          FROM unnest(job_keys, job_lease_tokens, job_results) AS given (id, lease_token, result)
         WHERE job.id = given.id AND job.status = 'running' AND job.lease_token = given.lease_token
        RETURNING job.*
      ), spent AS (
        -- What a worker reports it spent replaces what its claim counted.
        UPDATE quota_spends SET units = given.units
          FROM unnest(job_keys, job_lease_tokens, job_units) AS given (id, lease_token, units)
         WHERE quota_spends.lease_token = given.lease_token AND given.units IS NOT NULL
           AND given.id IN (SELECT id FROM done)
      ), recovered AS (
        -- A success ends its key's run of rate-limit errors and closes its breaker.
        UPDATE rate_keys SET rate_limited_in_a_row = 0, breaker = 'closed', breaker_until = NULL
         WHERE key IN (SELECT k.key FROM rate_keys k JOIN done ON done.rate_key = k.key
                        WHERE k.rate_limited_in_a_row > 0 OR k.breaker <> 'closed'
                        ORDER BY k.key FOR NO KEY UPDATE OF k)
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
    $function$;
