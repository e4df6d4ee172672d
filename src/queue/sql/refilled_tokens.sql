CREATE OR REPLACE FUNCTION public.refilled_tokens(tokens double precision, tokens_at timestamp with time zone, max_starts integer, per_seconds integer, clock timestamp with time zone)
 RETURNS double precision
 LANGUAGE sql
 IMMUTABLE
AS $function$
      -- A bucket of max_starts tokens that refills at max_starts per per_seconds: full until first drawn, null
      -- when there is no limit.
      SELECT CASE WHEN max_starts IS NULL THEN NULL
                  WHEN tokens_at IS NULL THEN max_starts::double precision
                  ELSE least(max_starts::double precision,
                             tokens + greatest(0, extract(epoch FROM clock - tokens_at))::double precision
                                      * max_starts / per_seconds) END
    $function$;
