CREATE OR REPLACE FUNCTION public.add_session_job_counts(session_ids uuid[], statuses job_status[], deltas integer[])
 RETURNS void
 LANGUAGE plpgsql
AS $function$
    DECLARE
      completed record;
    BEGIN
      INSERT INTO processing_session_job_counts (session_id, status, jobs)
      SELECT c.session_id, c.status, sum(c.delta)
        FROM unnest(session_ids, statuses, deltas) AS c (session_id, status, delta)
       WHERE c.session_id IS NOT NULL
         AND EXISTS (SELECT 1 FROM processing_sessions s WHERE s.id = c.session_id)
       GROUP BY c.session_id, c.status
      HAVING sum(c.delta) <> 0;

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
    $function$;
