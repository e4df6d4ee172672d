CREATE OR REPLACE FUNCTION public.set_updated_at()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      -- An UPDATE that sets updated_at itself (a data import, a replayed seed) keeps its value.
      IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
      END IF;
      RETURN NEW;
    END
    $function$;

CREATE TRIGGER channels_set_updated_at BEFORE UPDATE ON public.channels FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER job_types_set_updated_at BEFORE UPDATE ON public.job_types FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER processing_jobs_set_updated_at BEFORE UPDATE ON public.processing_jobs FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER processing_sessions_set_updated_at BEFORE UPDATE ON public.processing_sessions FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER quota_budgets_set_updated_at BEFORE UPDATE ON public.quota_budgets FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER rate_keys_set_updated_at BEFORE UPDATE ON public.rate_keys FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER transcripts_set_updated_at BEFORE UPDATE ON public.transcripts FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER videos_set_updated_at BEFORE UPDATE ON public.videos FOR EACH ROW EXECUTE FUNCTION set_updated_at();
