CREATE OR REPLACE FUNCTION public.clear_job_type_counts()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      DELETE FROM processing_job_counts;
      RETURN NULL;
    END
    $function$;

CREATE TRIGGER processing_jobs_count_types_truncated AFTER TRUNCATE ON public.processing_jobs FOR EACH STATEMENT EXECUTE FUNCTION clear_job_type_counts();
