CREATE OR REPLACE FUNCTION public.notify_claimable_jobs()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      -- Queued and not held; or a limited type's job that stopped running, which frees a place under its limit.
      IF EXISTS (SELECT 1 FROM new_jobs WHERE status = 'queued' AND NOT held)
         OR EXISTS (SELECT 1 FROM new_jobs n JOIN job_types t ON t.name = n.job_type
                     WHERE n.status <> 'running' AND t.max_running IS NOT NULL) THEN
        PERFORM pg_notify('processing_jobs_claimable', '');
      END IF;
      RETURN NULL;
    END
    $function$;

CREATE TRIGGER processing_jobs_notify_inserted AFTER INSERT ON public.processing_jobs REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION notify_claimable_jobs();
CREATE TRIGGER processing_jobs_notify_updated AFTER UPDATE ON public.processing_jobs REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION notify_claimable_jobs();
