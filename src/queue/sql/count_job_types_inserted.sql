CREATE OR REPLACE FUNCTION public.count_job_types_inserted()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      INSERT INTO processing_job_counts (job_type, status, jobs, lease_expiries)
      SELECT job_type, status, count(*), 0 FROM new_jobs GROUP BY job_type, status;
      RETURN NULL;
    END
    $function$;

CREATE TRIGGER processing_jobs_count_types_inserted AFTER INSERT ON public.processing_jobs REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_job_types_inserted();
