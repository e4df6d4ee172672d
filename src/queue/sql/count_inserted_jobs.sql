CREATE OR REPLACE FUNCTION public.count_inserted_jobs()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
              BEGIN IF EXISTS (SELECT 1 FROM new_jobs WHERE session_id IS NOT NULL) THEN PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
                       FROM (SELECT session_id, status, 1 AS delta FROM new_jobs) changes; END IF; RETURN NULL; END $function$;

CREATE TRIGGER processing_jobs_count_inserted AFTER INSERT ON public.processing_jobs REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_jobs();
