CREATE OR REPLACE FUNCTION public.schedule_channel_discovery()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      NEW.next_discovery_at := CASE
        WHEN NEW.processing_config -> 'discoverEveryHours' IS NULL THEN NULL
        WHEN NEW.last_checked_at IS NULL THEN NEW.created_at
        ELSE NEW.last_checked_at
             + make_interval(secs => (NEW.processing_config -> 'discoverEveryHours')::double precision * 3600)
      END;
      RETURN NEW;
    END
    $function$;

CREATE TRIGGER channels_schedule_discovery_inserted BEFORE INSERT ON public.channels FOR EACH ROW EXECUTE FUNCTION schedule_channel_discovery();
CREATE TRIGGER channels_schedule_discovery_updated BEFORE UPDATE OF last_checked_at, processing_config ON public.channels FOR EACH ROW WHEN (((old.last_checked_at IS DISTINCT FROM new.last_checked_at) OR ((old.processing_config -> 'discoverEveryHours'::text) IS DISTINCT FROM (new.processing_config -> 'discoverEveryHours'::text)))) EXECUTE FUNCTION schedule_channel_discovery();
