CREATE OR REPLACE FUNCTION public.place_job_in_its_key()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      -- A job's key is its channel unless the enqueuer named one.
      IF NEW.rate_key IS NULL THEN
        NEW.rate_key := 'channel:' || CASE NEW.entity_type
          WHEN 'video' THEN coalesce((SELECT channel_id FROM videos WHERE id = NEW.entity_id), NEW.entity_id)
          ELSE NEW.entity_id END;
      END IF;
      -- One round past its key's last active job, and never behind the round the newest lease is serving.
      IF NEW.status IN ('queued', 'running') THEN
        NEW.fair_round := greatest(
          (SELECT max(fair_round) + 1 FROM processing_jobs
            WHERE job_type = NEW.job_type AND rate_key = NEW.rate_key AND status IN ('queued', 'running')),
          (SELECT fair_round FROM processing_jobs
            WHERE job_type = NEW.job_type AND status = 'running' ORDER BY lease_expires_at DESC LIMIT 1),
          0);
      END IF;
      RETURN NEW;
    END
    $function$;

CREATE TRIGGER processing_jobs_place_in_key BEFORE INSERT ON public.processing_jobs FOR EACH ROW WHEN (((new.rate_key IS NULL) OR (new.status = ANY (ARRAY['queued'::job_status, 'running'::job_status])))) EXECUTE FUNCTION place_job_in_its_key();
