CREATE OR REPLACE FUNCTION public.follow_job_session()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    DECLARE
      session_status session_status;
    BEGIN
      SELECT status INTO session_status FROM processing_sessions WHERE id = NEW.session_id FOR KEY SHARE;
      IF session_status IN ('completed', 'failed') AND NEW.status = 'queued' THEN
        IF TG_OP = 'INSERT' THEN
          RAISE EXCEPTION 'session % is %', NEW.session_id, session_status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'processing_jobs_session_is_open',
                  TABLE = 'processing_jobs';
        END IF;
        NEW.status := 'cancelled';
        NEW.completed_at := now();
        NEW.lease_token := NULL;
        NEW.lease_expires_at := NULL;
        NEW.held := false;
      ELSE
        NEW.held := session_status IS NOT DISTINCT FROM 'paused';
      END IF;
      RETURN NEW;
    END
    $function$;

CREATE TRIGGER processing_jobs_follow_session_inserted BEFORE INSERT ON public.processing_jobs FOR EACH ROW WHEN (((new.session_id IS NOT NULL) AND (new.status = ANY (ARRAY['queued'::job_status, 'running'::job_status])))) EXECUTE FUNCTION follow_job_session();
CREATE TRIGGER processing_jobs_follow_session_updated BEFORE UPDATE OF status, session_id ON public.processing_jobs FOR EACH ROW WHEN (((new.session_id IS NOT NULL) AND (((new.status = 'queued'::job_status) AND (old.status <> 'queued'::job_status)) OR ((new.status = ANY (ARRAY['queued'::job_status, 'running'::job_status])) AND (old.session_id IS DISTINCT FROM new.session_id))))) EXECUTE FUNCTION follow_job_session();
