CREATE OR REPLACE FUNCTION public.prune_finished_jobs(finished_before timestamp with time zone, batch_size integer)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
    DECLARE
      pruned integer;
    BEGIN
      PERFORM set_config('tubesensei.pruning', 'on', true);
      DELETE FROM processing_jobs
       WHERE id IN (SELECT id FROM processing_jobs
                     WHERE status IN ('completed', 'failed', 'cancelled') AND completed_at < finished_before
                     ORDER BY completed_at LIMIT batch_size FOR UPDATE SKIP LOCKED);
      GET DIAGNOSTICS pruned = ROW_COUNT;
      PERFORM set_config('tubesensei.pruning', '', true);
      RETURN pruned;
    END
    $function$;
