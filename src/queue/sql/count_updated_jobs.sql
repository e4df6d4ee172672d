CREATE OR REPLACE FUNCTION public.count_updated_jobs()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
              BEGIN IF EXISTS (SELECT 1 FROM new_jobs WHERE session_id IS NOT NULL) OR EXISTS (SELECT 1 FROM old_jobs WHERE session_id IS NOT NULL) THEN PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
                       FROM (SELECT session_id, status, 1 AS delta FROM new_jobs
              UNION ALL
              SELECT session_id, status, -1 FROM old_jobs) changes; END IF; RETURN NULL; END $function$;

CREATE TRIGGER processing_jobs_count_updated AFTER UPDATE ON public.processing_jobs REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_updated_jobs();
