CREATE OR REPLACE FUNCTION public.claim_jobs(claim_worker text, claim_types text[], claim_limit integer, claim_lease_seconds double precision, video_starts_from video_status[], video_fails_from video_status[])
 RETURNS SETOF processing_jobs
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
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
    $function$;
