CREATE OR REPLACE FUNCTION public.count_deleted_jobs()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN IF current_setting('tubesensei.pruning', true) = 'on' THEN RETURN NULL; END IF;
    IF EXISTS (SELECT 1 FROM old_jobs WHERE session_id IS NOT NULL) THEN
      PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
         FROM (SELECT session_id, status, -1 AS delta FROM old_jobs) changes;
    END IF; RETURN NULL; END $function$;

CREATE TRIGGER processing_jobs_count_deleted AFTER DELETE ON public.processing_jobs REFERENCING OLD TABLE AS old_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_jobs();
