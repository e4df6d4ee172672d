CREATE OR REPLACE FUNCTION public.count_job_types_updated()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      INSERT INTO processing_job_counts (job_type, status, jobs, lease_expiries)
      SELECT job_type, status, sum(jobs), sum(lease_expiries)
        FROM (SELECT job_type, status, 1 AS jobs, 0 AS lease_expiries FROM new_jobs
              UNION ALL
              SELECT job_type, status, -1, 0 FROM old_jobs
              UNION ALL
              -- A lease that expired: taken over by a claim, or failed by one on the job's last attempt.
              SELECT n.job_type, n.status, 0, 1
                FROM old_jobs o JOIN new_jobs n ON n.id = o.id
               WHERE o.status = 'running'
                 AND (n.status = 'running' AND n.lease_token <> o.lease_token
                      OR n.status = 'failed'
                         AND n.error_message = coalesce(o.error_message || ' / ', '') || 'lease expired on the last attempt')
             ) changes
       GROUP BY job_type, status
      HAVING sum(jobs) <> 0 OR sum(lease_expiries) <> 0;
      RETURN NULL;
    END
    $function$;

CREATE TRIGGER processing_jobs_count_types_updated AFTER UPDATE ON public.processing_jobs REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_job_types_updated();
