CREATE OR REPLACE FUNCTION public.delete_jobs_of_deleted_entity()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      DELETE FROM processing_jobs WHERE entity_type = TG_ARGV[0]::job_entity_type AND entity_id = OLD.id;
      RETURN OLD;
    END
    $function$;

CREATE TRIGGER channels_delete_jobs AFTER DELETE ON public.channels FOR EACH ROW EXECUTE FUNCTION delete_jobs_of_deleted_entity('channel');
CREATE TRIGGER videos_delete_jobs AFTER DELETE ON public.videos FOR EACH ROW EXECUTE FUNCTION delete_jobs_of_deleted_entity('video');
