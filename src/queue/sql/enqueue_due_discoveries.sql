CREATE OR REPLACE FUNCTION public.enqueue_due_discoveries(batch_size integer)
 RETURNS SETOF processing_jobs
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
    BEGIN
      RETURN QUERY
      WITH due AS (
        SELECT c.id FROM channels c
         WHERE c.status = 'active' AND c.next_discovery_at <= now()
           AND NOT EXISTS (SELECT 1 FROM processing_jobs j
                            WHERE j.job_type = 'channel_discovery' AND j.entity_type = 'channel'
                              AND j.entity_id = c.id AND j.status IN ('queued', 'running'))
         ORDER BY c.next_discovery_at, c.id
         LIMIT batch_size
         FOR NO KEY UPDATE SKIP LOCKED
      ), moved AS (
        UPDATE channels c
           SET next_discovery_at = now()
                 + make_interval(secs => (c.processing_config -> 'discoverEveryHours')::double precision * 3600)
          FROM due WHERE c.id = due.id
        RETURNING c.id
      )
      INSERT INTO processing_jobs (job_type, entity_type, entity_id, metadata)
      SELECT 'channel_discovery', 'channel', moved.id, '{"scheduled": true}' FROM moved ORDER BY moved.id
      ON CONFLICT (job_type, entity_type, entity_id) WHERE status IN ('queued', 'running') DO NOTHING
      RETURNING *;
    END
    $function$;
