CREATE OR REPLACE FUNCTION public.release_job_hold()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      NEW.held := false;
      RETURN NEW;
    END
    $function$;

CREATE TRIGGER processing_jobs_release_hold BEFORE UPDATE ON public.processing_jobs FOR EACH ROW WHEN ((new.held AND ((new.session_id IS NULL) OR (new.status <> ALL (ARRAY['queued'::job_status, 'running'::job_status]))))) EXECUTE FUNCTION release_job_hold();
