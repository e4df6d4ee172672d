-- The schema a freshly migrated database holds: written by `npm run db:snapshot` from its catalog, never by
-- hand; CI fails when the migrations make anything else. knex's own tables are left out.

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE TYPE breaker_state AS ENUM ('closed', 'open', 'half_open');
CREATE TYPE channel_status AS ENUM ('active', 'paused', 'inactive');
CREATE TYPE job_entity_type AS ENUM ('channel', 'video');
CREATE TYPE job_status AS ENUM ('queued', 'running', 'completed', 'failed', 'cancelled');
CREATE TYPE job_wait_reason AS ENUM ('retry', 'snoozed', 'rate_limited', 'quota_exhausted');
CREATE TYPE session_status AS ENUM ('pending', 'running', 'paused', 'completed', 'failed');
CREATE TYPE session_type AS ENUM ('bulk_processing', 'manual');
CREATE TYPE transcript_source AS ENUM ('youtube_auto', 'youtube_manual');
CREATE TYPE video_status AS ENUM ('discovered', 'queued', 'processing', 'completed', 'failed');

CREATE TABLE channels (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    name text NOT NULL,
    youtube_channel_id text NOT NULL,
    channel_url text NOT NULL,
    description text,
    subscriber_count integer,
    video_count integer,
    status channel_status DEFAULT 'active'::channel_status NOT NULL,
    last_checked_at timestamp(3) with time zone,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    processing_config jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    next_discovery_at timestamp(3) with time zone,
    CONSTRAINT channels_pkey PRIMARY KEY (id),
    CONSTRAINT channels_youtube_channel_id_key UNIQUE (youtube_channel_id),
    CONSTRAINT channels_discover_every_hours_positive CHECK (
CASE jsonb_typeof((processing_config -> 'discoverEveryHours'::text))
    WHEN 'number'::text THEN ((((processing_config -> 'discoverEveryHours'::text))::double precision >= (0.01)::double precision) AND (((processing_config -> 'discoverEveryHours'::text))::double precision <= (8760)::double precision))
    ELSE ((processing_config -> 'discoverEveryHours'::text) IS NULL)
END),
    CONSTRAINT channels_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT channels_name_check CHECK ((btrim(name) <> ''::text)),
    CONSTRAINT channels_processing_config_check CHECK ((jsonb_typeof(processing_config) = 'object'::text)),
    CONSTRAINT channels_subscriber_count_check CHECK ((subscriber_count >= 0)),
    CONSTRAINT channels_video_count_check CHECK ((video_count >= 0)),
    CONSTRAINT channels_youtube_channel_id_check CHECK ((youtube_channel_id ~ '^UC[A-Za-z0-9_-]{22}$'::text))
);

CREATE TABLE job_types (
    name text NOT NULL,
    entity_type job_entity_type NOT NULL,
    max_running integer,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    budget text,
    budget_cost integer,
    max_starts integer,
    per_seconds integer,
    start_tokens double precision DEFAULT 0 NOT NULL,
    tokens_at timestamp(3) with time zone,
    cooldown_until timestamp(3) with time zone,
    CONSTRAINT job_types_pkey PRIMARY KEY (name),
    CONSTRAINT job_types_name_entity_type_key UNIQUE (name, entity_type),
    CONSTRAINT job_types_budget_cost_check CHECK (((budget_cost >= 1) AND (budget_cost <= 1000000))),
    CONSTRAINT job_types_budget_whole CHECK (((budget IS NULL) = (budget_cost IS NULL))),
    CONSTRAINT job_types_max_running_check CHECK ((max_running >= 0)),
    CONSTRAINT job_types_max_starts_check CHECK (((max_starts >= 1) AND (max_starts <= 1000000))),
    CONSTRAINT job_types_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text)),
    CONSTRAINT job_types_per_seconds_check CHECK (((per_seconds >= 1) AND (per_seconds <= 86400))),
    CONSTRAINT job_types_rate_whole CHECK (((max_starts IS NULL) = (per_seconds IS NULL))),
    CONSTRAINT job_types_start_tokens_check CHECK ((start_tokens >= (0)::double precision))
);

CREATE TABLE processing_job_counts (
    id bigint NOT NULL GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.processing_job_counts_id_seq),
    job_type text NOT NULL,
    status job_status NOT NULL,
    jobs bigint NOT NULL,
    lease_expiries bigint NOT NULL,
    CONSTRAINT processing_job_counts_pkey PRIMARY KEY (id)
);

CREATE TABLE processing_jobs (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    job_type text NOT NULL,
    status job_status DEFAULT 'queued'::job_status NOT NULL,
    entity_type job_entity_type NOT NULL,
    entity_id uuid NOT NULL,
    session_id uuid,
    priority integer DEFAULT 0 NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    max_attempts integer DEFAULT 3 NOT NULL,
    run_after timestamp(3) with time zone DEFAULT now() NOT NULL,
    started_at timestamp(3) with time zone,
    completed_at timestamp(3) with time zone,
    error_message text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    result jsonb,
    locked_by text,
    locked_at timestamp(3) with time zone,
    lease_token uuid,
    lease_expires_at timestamp(3) with time zone,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    held boolean DEFAULT false NOT NULL,
    requeued_at timestamp(3) with time zone,
    requeued_by text,
    requeued_from text,
    requeue_reason text,
    rate_key text NOT NULL,
    fair_round bigint DEFAULT 0 NOT NULL,
    wait_reason job_wait_reason,
    wait_detail text,
    traceparent text,
    CONSTRAINT processing_jobs_pkey PRIMARY KEY (id),
    CONSTRAINT processing_jobs_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT processing_jobs_attempts_within_max CHECK ((attempts <= max_attempts)),
    CONSTRAINT processing_jobs_held_by_a_session CHECK (((NOT held) OR (session_id IS NOT NULL))),
    CONSTRAINT processing_jobs_max_attempts_check CHECK ((max_attempts >= 1)),
    CONSTRAINT processing_jobs_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT processing_jobs_rate_key_check CHECK ((rate_key ~ '^[A-Za-z0-9][A-Za-z0-9:._@-]{0,199}$'::text)),
    CONSTRAINT processing_jobs_requeue_recorded_whole CHECK ((((requeued_at IS NULL) = (requeued_by IS NULL)) AND ((requeued_at IS NULL) = (requeue_reason IS NULL)))),
    CONSTRAINT processing_jobs_running_has_lease CHECK (((status <> 'running'::job_status) OR ((lease_token IS NOT NULL) AND (lease_expires_at IS NOT NULL)))),
    CONSTRAINT processing_jobs_traceparent_check CHECK ((traceparent ~ '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$'::text))
);

CREATE TABLE processing_session_job_counts (
    id bigint NOT NULL GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.processing_session_job_deltas_id_seq),
    session_id uuid NOT NULL,
    status job_status NOT NULL,
    jobs bigint NOT NULL,
    CONSTRAINT processing_session_job_counts_pkey PRIMARY KEY (id)
);

CREATE TABLE processing_sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    session_name text NOT NULL,
    session_type session_type NOT NULL,
    status session_status DEFAULT 'pending'::session_status NOT NULL,
    total_videos integer,
    processed_videos integer DEFAULT 0 NOT NULL,
    started_at timestamp(3) with time zone,
    completed_at timestamp(3) with time zone,
    configuration jsonb DEFAULT '{}'::jsonb NOT NULL,
    metrics jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    CONSTRAINT processing_sessions_pkey PRIMARY KEY (id),
    CONSTRAINT processing_sessions_configuration_check CHECK ((jsonb_typeof(configuration) = 'object'::text)),
    CONSTRAINT processing_sessions_metrics_check CHECK ((jsonb_typeof(metrics) = 'object'::text)),
    CONSTRAINT processing_sessions_processed_videos_check CHECK ((processed_videos >= 0)),
    CONSTRAINT processing_sessions_session_name_check CHECK ((btrim(session_name) <> ''::text)),
    CONSTRAINT processing_sessions_total_videos_check CHECK ((total_videos >= 0))
);

CREATE TABLE quota_budgets (
    name text NOT NULL,
    capacity integer NOT NULL,
    time_zone text,
    window_seconds integer,
    exhausted_until timestamp(3) with time zone,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    CONSTRAINT quota_budgets_pkey PRIMARY KEY (name),
    CONSTRAINT quota_budgets_capacity_check CHECK ((capacity >= 0)),
    CONSTRAINT quota_budgets_name_check CHECK ((name ~ '^[a-z][a-z0-9_-]{0,62}$'::text)),
    CONSTRAINT quota_budgets_one_window CHECK (((time_zone IS NULL) <> (window_seconds IS NULL))),
    CONSTRAINT quota_budgets_time_zone_check CHECK (((time_zone IS NULL) OR (('2026-01-01 00:00:00+00'::timestamp with time zone AT TIME ZONE time_zone) IS NOT NULL))),
    CONSTRAINT quota_budgets_window_seconds_check CHECK (((window_seconds >= 1) AND (window_seconds <= 86400)))
);

CREATE TABLE quota_spends (
    id bigint NOT NULL GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.quota_spends_id_seq),
    budget text NOT NULL,
    spent_at timestamp(3) with time zone NOT NULL,
    units integer NOT NULL,
    job_id uuid NOT NULL,
    lease_token uuid NOT NULL,
    CONSTRAINT quota_spends_pkey PRIMARY KEY (id),
    CONSTRAINT quota_spends_lease_token_key UNIQUE (lease_token),
    CONSTRAINT quota_spends_units_check CHECK ((units >= 0))
);

CREATE TABLE rate_keys (
    key text NOT NULL,
    max_starts integer,
    per_seconds integer,
    start_tokens double precision DEFAULT 0 NOT NULL,
    tokens_at timestamp(3) with time zone,
    cooldown_until timestamp(3) with time zone,
    rate_limited_in_a_row integer DEFAULT 0 NOT NULL,
    breaker_threshold integer DEFAULT 3 NOT NULL,
    breaker_cooldown_seconds integer DEFAULT 600 NOT NULL,
    breaker breaker_state DEFAULT 'closed'::breaker_state NOT NULL,
    breaker_until timestamp(3) with time zone,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    CONSTRAINT rate_keys_pkey PRIMARY KEY (key),
    CONSTRAINT rate_keys_breaker_cooldown_seconds_check CHECK (((breaker_cooldown_seconds >= 1) AND (breaker_cooldown_seconds <= 86400))),
    CONSTRAINT rate_keys_breaker_threshold_check CHECK (((breaker_threshold >= 1) AND (breaker_threshold <= 1000))),
    CONSTRAINT rate_keys_breaker_until CHECK (((breaker = 'closed'::breaker_state) = (breaker_until IS NULL))),
    CONSTRAINT rate_keys_key_check CHECK ((key ~ '^[A-Za-z0-9][A-Za-z0-9:._@-]{0,199}$'::text)),
    CONSTRAINT rate_keys_max_starts_check CHECK (((max_starts >= 1) AND (max_starts <= 1000000))),
    CONSTRAINT rate_keys_per_seconds_check CHECK (((per_seconds >= 1) AND (per_seconds <= 86400))),
    CONSTRAINT rate_keys_rate_limited_in_a_row_check CHECK ((rate_limited_in_a_row >= 0)),
    CONSTRAINT rate_keys_rate_whole CHECK (((max_starts IS NULL) = (per_seconds IS NULL))),
    CONSTRAINT rate_keys_start_tokens_check CHECK ((start_tokens >= (0)::double precision))
);

CREATE TABLE transcripts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    video_id uuid NOT NULL,
    content text NOT NULL,
    language text,
    source transcript_source NOT NULL,
    confidence_score double precision,
    word_count integer,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    CONSTRAINT transcripts_pkey PRIMARY KEY (id),
    CONSTRAINT transcripts_video_id_language_source_key UNIQUE NULLS NOT DISTINCT (video_id, language, source),
    CONSTRAINT transcripts_confidence_score_check CHECK (((confidence_score >= (0)::double precision) AND (confidence_score <= (1)::double precision))),
    CONSTRAINT transcripts_content_check CHECK ((content <> ''::text)),
    CONSTRAINT transcripts_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT transcripts_word_count_check CHECK ((word_count >= 0))
);

CREATE TABLE videos (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    channel_id uuid NOT NULL,
    youtube_video_id text NOT NULL,
    title text NOT NULL,
    description text,
    duration_seconds integer,
    view_count bigint,
    like_count bigint,
    comment_count bigint,
    published_at timestamp(3) with time zone,
    thumbnail_url text,
    video_url text NOT NULL,
    status video_status DEFAULT 'discovered'::video_status NOT NULL,
    processing_priority integer DEFAULT 0 NOT NULL,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    tags text[] DEFAULT '{}'::text[] NOT NULL,
    discovered_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    processed_at timestamp(3) with time zone,
    error_message text,
    retry_count integer DEFAULT 0 NOT NULL,
    created_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    updated_at timestamp(3) with time zone DEFAULT now() NOT NULL,
    CONSTRAINT videos_pkey PRIMARY KEY (id),
    CONSTRAINT videos_youtube_video_id_key UNIQUE (youtube_video_id),
    CONSTRAINT videos_comment_count_check CHECK ((comment_count >= 0)),
    CONSTRAINT videos_duration_seconds_check CHECK ((duration_seconds >= 0)),
    CONSTRAINT videos_like_count_check CHECK ((like_count >= 0)),
    CONSTRAINT videos_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT videos_retry_count_check CHECK ((retry_count >= 0)),
    CONSTRAINT videos_title_check CHECK ((btrim(title) <> ''::text)),
    CONSTRAINT videos_view_count_check CHECK ((view_count >= 0)),
    CONSTRAINT videos_youtube_video_id_check CHECK ((youtube_video_id ~ '^[A-Za-z0-9_-]{11}$'::text))
);

ALTER TABLE ONLY job_types ADD CONSTRAINT job_types_budget_fkey FOREIGN KEY (budget) REFERENCES quota_budgets(name) ON UPDATE CASCADE;
ALTER TABLE ONLY processing_jobs ADD CONSTRAINT processing_jobs_job_type_fkey FOREIGN KEY (job_type, entity_type) REFERENCES job_types(name, entity_type);
ALTER TABLE ONLY processing_jobs ADD CONSTRAINT processing_jobs_session_id_fkey FOREIGN KEY (session_id) REFERENCES processing_sessions(id) ON DELETE SET NULL;
ALTER TABLE ONLY processing_session_job_counts ADD CONSTRAINT processing_session_job_counts_session_id_fkey FOREIGN KEY (session_id) REFERENCES processing_sessions(id) ON DELETE CASCADE;
ALTER TABLE ONLY quota_spends ADD CONSTRAINT quota_spends_budget_fkey FOREIGN KEY (budget) REFERENCES quota_budgets(name) ON UPDATE CASCADE ON DELETE CASCADE;
ALTER TABLE ONLY transcripts ADD CONSTRAINT transcripts_video_id_fkey FOREIGN KEY (video_id) REFERENCES videos(id) ON DELETE CASCADE;
ALTER TABLE ONLY videos ADD CONSTRAINT videos_channel_id_fkey FOREIGN KEY (channel_id) REFERENCES channels(id) ON DELETE CASCADE;

CREATE INDEX channels_created_at_id_idx ON public.channels USING btree (created_at DESC, id DESC);
CREATE INDEX channels_due_idx ON public.channels USING btree (next_discovery_at, id) WHERE (status = 'active'::channel_status);
CREATE INDEX channels_name_trgm_idx ON public.channels USING gin (name gin_trgm_ops);
CREATE INDEX channels_status_created_at_id_idx ON public.channels USING btree (status, created_at DESC, id DESC);
CREATE INDEX processing_jobs_created_at_id_idx ON public.processing_jobs USING btree (created_at DESC, id DESC);
CREATE INDEX processing_jobs_entity_id_idx ON public.processing_jobs USING btree (entity_id);
CREATE INDEX processing_jobs_finished_idx ON public.processing_jobs USING btree (completed_at) WHERE (status = ANY (ARRAY['completed'::job_status, 'failed'::job_status, 'cancelled'::job_status]));
CREATE INDEX processing_jobs_job_type_created_at_id_idx ON public.processing_jobs USING btree (job_type, created_at DESC, id DESC);
CREATE INDEX processing_jobs_key_round_idx ON public.processing_jobs USING btree (job_type, rate_key, fair_round) WHERE (status = ANY (ARRAY['queued'::job_status, 'running'::job_status]));
CREATE INDEX processing_jobs_lease_exhausted_idx ON public.processing_jobs USING btree (lease_expires_at) WHERE ((status = 'running'::job_status) AND (attempts >= max_attempts));
CREATE UNIQUE INDEX processing_jobs_one_active_per_entity ON public.processing_jobs USING btree (job_type, entity_type, entity_id) WHERE (status = ANY (ARRAY['queued'::job_status, 'running'::job_status]));
CREATE INDEX processing_jobs_reclaimable_idx ON public.processing_jobs USING btree (lease_expires_at) INCLUDE (job_type) WHERE ((status = 'running'::job_status) AND (attempts < max_attempts));
CREATE INDEX processing_jobs_runnable_idx ON public.processing_jobs USING btree (job_type, priority DESC, fair_round, created_at, id) INCLUDE (run_after, rate_key) WHERE ((status = 'queued'::job_status) AND (NOT held));
CREATE INDEX processing_jobs_running_type_idx ON public.processing_jobs USING btree (job_type, lease_expires_at) WHERE (status = 'running'::job_status);
CREATE INDEX processing_jobs_scheduled_idx ON public.processing_jobs USING btree (run_after) WHERE ((status = 'queued'::job_status) AND (NOT held));
CREATE INDEX processing_jobs_session_id_created_at_id_idx ON public.processing_jobs USING btree (session_id, created_at DESC, id DESC) WHERE (session_id IS NOT NULL);
CREATE INDEX processing_jobs_status_created_at_id_idx ON public.processing_jobs USING btree (status, created_at DESC, id DESC);
CREATE INDEX processing_session_job_counts_session_id_idx ON public.processing_session_job_counts USING btree (session_id) INCLUDE (status, jobs);
CREATE INDEX processing_sessions_created_at_id_idx ON public.processing_sessions USING btree (created_at DESC, id DESC);
CREATE INDEX processing_sessions_status_created_at_id_idx ON public.processing_sessions USING btree (status, created_at DESC, id DESC);
CREATE INDEX quota_spends_window_idx ON public.quota_spends USING btree (budget, spent_at) INCLUDE (units);
CREATE INDEX rate_keys_breaker_idx ON public.rate_keys USING btree (breaker_until) WHERE (breaker_until IS NOT NULL);
CREATE INDEX rate_keys_cooldown_idx ON public.rate_keys USING btree (cooldown_until) WHERE (cooldown_until IS NOT NULL);
CREATE INDEX rate_keys_limited_idx ON public.rate_keys USING btree (key) WHERE (max_starts IS NOT NULL);
CREATE INDEX transcripts_created_at_id_idx ON public.transcripts USING btree (created_at DESC, id DESC);
CREATE INDEX transcripts_video_id_created_at_idx ON public.transcripts USING btree (video_id, created_at DESC, id DESC);
CREATE INDEX videos_channel_id_published_idx ON public.videos USING btree (channel_id, COALESCE(published_at, '-infinity'::timestamp with time zone) DESC, id DESC);
CREATE INDEX videos_channel_id_status_published_idx ON public.videos USING btree (channel_id, status, COALESCE(published_at, '-infinity'::timestamp with time zone) DESC, id DESC);
CREATE INDEX videos_published_idx ON public.videos USING btree (COALESCE(published_at, '-infinity'::timestamp with time zone) DESC, id DESC) INCLUDE (published_at, tags);
CREATE INDEX videos_status_published_idx ON public.videos USING btree (status, COALESCE(published_at, '-infinity'::timestamp with time zone) DESC, id DESC);
CREATE INDEX videos_tags_idx ON public.videos USING gin (tags);
CREATE INDEX videos_title_trgm_idx ON public.videos USING gin (title gin_trgm_ops);

CREATE OR REPLACE FUNCTION public.add_session_job_counts(session_ids uuid[], statuses job_status[], deltas integer[])
 RETURNS void
 LANGUAGE plpgsql
AS $function$
    DECLARE
      completed record;
    BEGIN
      INSERT INTO processing_session_job_counts (session_id, status, jobs)
      SELECT c.session_id, c.status, sum(c.delta)
        FROM unnest(session_ids, statuses, deltas) AS c (session_id, status, delta)
       WHERE c.session_id IS NOT NULL
         AND EXISTS (SELECT 1 FROM processing_sessions s WHERE s.id = c.session_id)
       GROUP BY c.session_id, c.status
      HAVING sum(c.delta) <> 0;

      -- One session at a time in id order, so statements completing jobs of the same sessions cannot deadlock.
      FOR completed IN
        SELECT c.session_id, sum(c.delta)::integer AS delta
          FROM unnest(session_ids, statuses, deltas) AS c (session_id, status, delta)
         WHERE c.status = 'completed' AND c.session_id IS NOT NULL
         GROUP BY c.session_id HAVING sum(c.delta) <> 0
         ORDER BY c.session_id
      LOOP
        UPDATE processing_sessions SET processed_videos = processed_videos + completed.delta
         WHERE id = completed.session_id;
      END LOOP;
    END
    $function$;

CREATE OR REPLACE FUNCTION public.claim_jobs(claim_worker text, claim_types text[], claim_limit integer, claim_lease_seconds double precision, video_starts_from video_status[], video_fails_from video_status[], claim_at timestamp with time zone)
 RETURNS SETOF processing_jobs
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
    DECLARE
      -- What every time rule of the claim reads: the server's clock unless the caller hands one. Leases keep the
      -- server's clock.
      clock timestamptz := coalesce(claim_at, now());
      type_names text[];
      type_caps integer[];
      type_budgets text[];
      type_costs integer[];
      budget_names text[];
      budget_starts timestamptz[];
      budget_rooms bigint[];
      blocked_keys text[];
      candidate_ids uuid[];
      key_names text[];
      key_rooms integer[];
      sorting text := current_setting('enable_sort');
      scanning text := current_setting('enable_seqscan');
    BEGIN
      -- Leases that expired on their last attempt fail, and their videos with them.
      WITH exhausted AS (
        UPDATE processing_jobs
           SET status = 'failed', completed_at = now(), lease_token = NULL, lease_expires_at = NULL,
               error_message = coalesce(error_message || ' / ', '') || 'lease expired on the last attempt'
         WHERE id IN (SELECT id FROM processing_jobs
                       WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
                       ORDER BY lease_expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)
        RETURNING entity_type, entity_id, error_message
      )
      UPDATE videos SET status = 'failed', error_message = exhausted.error_message, retry_count = retry_count + 1
        FROM exhausted
       WHERE exhausted.entity_type = 'video' AND videos.id = exhausted.entity_id
         AND videos.id IN (SELECT v.id FROM videos v JOIN exhausted e ON e.entity_type = 'video' AND v.id = e.entity_id
                            WHERE v.status = ANY(video_fails_from)
                            ORDER BY v.youtube_video_id FOR NO KEY UPDATE OF v);

      -- Types a claim takes room from (a running limit, a start rate), then the budgets the claimable types spend,
      -- each in name order and locked until this claim commits.
      PERFORM 1 FROM job_types
        WHERE (max_running IS NOT NULL OR max_starts IS NOT NULL) AND (claim_types IS NULL OR name = ANY(claim_types))
        ORDER BY name FOR NO KEY UPDATE;
      PERFORM 1 FROM quota_budgets
        WHERE name IN (SELECT budget FROM job_types WHERE claim_types IS NULL OR name = ANY(claim_types))
        ORDER BY name FOR NO KEY UPDATE;

      -- In a new snapshot, which sees every claim that held those locks before: what each budget has left in its
      -- window, nothing while it is marked exhausted.
      SELECT coalesce(array_agg(b.name ORDER BY b.name), '{}'),
             coalesce(array_agg(w.starts_at ORDER BY b.name), '{}'),
             coalesce(array_agg(CASE WHEN b.exhausted_until > clock THEN 0 ELSE greatest(0, b.capacity - w.used) END
                                ORDER BY b.name), '{}')
        INTO budget_names, budget_starts, budget_rooms
        FROM quota_budgets b CROSS JOIN LATERAL quota_window(b.name, clock) w
       WHERE b.name IN (SELECT budget FROM job_types WHERE claim_types IS NULL OR name = ANY(claim_types));

      -- The room of each type: the claim's limit, or less under each limit it has (least() passes over the ones it
      -- has not, which are null): a running limit (live leases counted up to it), a start rate (whole tokens), a
      -- budget (the jobs what is left pays for); none while it cools down.
      SELECT coalesce(array_agg(t.name ORDER BY t.name), '{}'),
             coalesce(array_agg(CASE WHEN t.cooldown_until > clock THEN 0 ELSE least(
                                  claim_limit,
                                  CASE WHEN t.max_running IS NOT NULL THEN t.max_running - (
                                    SELECT count(*) FROM (
                                      SELECT 1 FROM processing_jobs j
                                       WHERE j.status = 'running' AND j.job_type = t.name AND j.lease_expires_at >= now()
                                       LIMIT t.max_running) live) END,
                                  floor(refilled_tokens(t.start_tokens, t.tokens_at, t.max_starts, t.per_seconds, clock)),
                                  budget_rooms[array_position(budget_names, t.budget)] / t.budget_cost)::integer END
                                ORDER BY t.name), '{}'),
             coalesce(array_agg(t.budget ORDER BY t.name), '{}'),
             coalesce(array_agg(t.budget_cost ORDER BY t.name), '{}')
        INTO type_names, type_caps, type_budgets, type_costs
        FROM job_types t
       WHERE claim_types IS NULL OR t.name = ANY(claim_types);

      -- Keys no job may start under now: cooling down, behind an open breaker or its probe, or out of tokens. Every
      -- key that was ever rate limited keeps its row, so each is found through an index of its own: the generic plan
      -- takes a third of the rows for a comparison with the clock and would read every key, so sequential scans are
      -- off while this statement is planned and run.
      PERFORM set_config('enable_seqscan', 'off', true);
      SELECT coalesce(array_agg(b.key), '{}') INTO blocked_keys
        FROM (SELECT key FROM rate_keys WHERE cooldown_until > clock
              UNION ALL SELECT key FROM rate_keys WHERE breaker_until > clock
              UNION ALL SELECT key FROM rate_keys
                     WHERE max_starts IS NOT NULL
                       AND refilled_tokens(start_tokens, tokens_at, max_starts, per_seconds, clock) < 1) b;
      PERFORM set_config('enable_seqscan', scanning, true);

      -- Each type's best queued and expired-lease jobs, up to its room, each scan on an index of its own type:
      -- by priority, then by round, which takes one job of each key before a second of any. The generic plan
      -- cannot know a type's room (it takes a tenth of the rows for it), and would rather read every due job of
      -- every type and sort them than walk the type's part of the runnable index and stop at its room: sorting is
      -- off while this statement is planned and run, which leaves the walk.
      PERFORM set_config('enable_sort', 'off', true);
      SELECT coalesce(array_agg(c.id), '{}') INTO candidate_ids
        FROM (SELECT * FROM unnest(type_names, type_caps) AS t (name, cap) WHERE t.cap > 0) g
       CROSS JOIN LATERAL (
         SELECT * FROM (
           SELECT id FROM processing_jobs
            WHERE status = 'queued' AND NOT held AND run_after <= clock AND job_type = g.name
              AND rate_key <> ALL(blocked_keys)
            ORDER BY priority DESC, fair_round, created_at, id
            LIMIT g.cap FOR UPDATE SKIP LOCKED) queued
         UNION ALL
         SELECT * FROM (
           SELECT id FROM processing_jobs
            WHERE status = 'running' AND NOT held AND lease_expires_at < now() AND attempts < max_attempts
              AND job_type = g.name AND rate_key <> ALL(blocked_keys)
            ORDER BY lease_expires_at
            LIMIT g.cap FOR UPDATE SKIP LOCKED) expired
       ) c;
      PERFORM set_config('enable_sort', sorting, true);

      -- The candidates' keys that have a row, locked in key order and read as they are now: how many jobs each
      -- may start (null: no limit). Past an open breaker's cool-down, one: its probe.
      SELECT coalesce(array_agg(k.key), '{}'), coalesce(array_agg(k.room), '{}')
        INTO key_names, key_rooms
        FROM (SELECT key,
                     CASE WHEN cooldown_until > clock OR breaker_until > clock THEN 0
                          ELSE least(CASE WHEN breaker <> 'closed' THEN 1 END,
                                     floor(refilled_tokens(start_tokens, tokens_at, max_starts, per_seconds, clock)))::integer
                     END AS room
                FROM rate_keys
               WHERE key IN (SELECT rate_key FROM processing_jobs WHERE id = ANY(candidate_ids))
               ORDER BY key FOR NO KEY UPDATE) k;

      RETURN QUERY
      WITH candidate AS (
        SELECT j.id, j.job_type, j.rate_key, j.priority, j.fair_round, j.created_at, t.cap, t.budget, t.cost
          FROM processing_jobs j
          JOIN unnest(type_names, type_caps, type_budgets, type_costs) AS t (name, cap, budget, cost) ON t.name = j.job_type
         WHERE j.id = ANY(candidate_ids)
      ), in_type_room AS (
        SELECT * FROM (
          SELECT c.*, row_number() OVER (PARTITION BY c.job_type ORDER BY c.priority DESC, c.fair_round, c.created_at, c.id) AS nth
            FROM candidate c) ranked
         WHERE nth <= cap
      ), in_key_room AS (
        SELECT * FROM (
          SELECT c.*, k.room AS key_room,
                 row_number() OVER (PARTITION BY c.rate_key ORDER BY c.priority DESC, c.fair_round, c.created_at, c.id) AS key_nth
            FROM in_type_room c LEFT JOIN unnest(key_names, key_rooms) AS k (key, room) ON k.key = c.rate_key) ranked
         WHERE key_room IS NULL OR key_nth <= key_room
      ), in_budget AS (
        -- A budget pays for its jobs in the claim's order while what is left covers their cost.
        SELECT * FROM (
          SELECT c.*, b.room AS budget_room,
                 sum(c.cost) OVER (PARTITION BY c.budget ORDER BY c.priority DESC, c.fair_round, c.created_at, c.id) AS spending
            FROM in_key_room c LEFT JOIN unnest(budget_names, budget_rooms) AS b (name, room) ON b.name = c.budget) ranked
         WHERE budget IS NULL OR spending <= budget_room
      ), chosen AS (
        SELECT id, budget, cost FROM in_budget
         ORDER BY priority DESC, fair_round, created_at, id
         LIMIT claim_limit
      ), claimed AS (
        UPDATE processing_jobs AS job
           SET status = 'running', attempts = job.attempts + 1, locked_by = claim_worker, locked_at = now(),
               lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => claim_lease_seconds),
               started_at = coalesce(job.started_at, now()), wait_reason = NULL, wait_detail = NULL
          FROM chosen WHERE job.id = chosen.id
        RETURNING job.*
      ), spent AS (
        -- What each start spends, under the lease it was given, so its worker can report what it really spent.
        INSERT INTO quota_spends (budget, spent_at, units, job_id, lease_token)
        SELECT chosen.budget, clock, chosen.cost, claimed.id, claimed.lease_token
          FROM claimed JOIN chosen ON chosen.id = claimed.id
         WHERE chosen.budget IS NOT NULL
         ORDER BY claimed.id
      ), forgotten AS (
        -- Spends that left their budget's window count no more: forgotten a few hundred at a time.
        DELETE FROM quota_spends
         WHERE id IN (SELECT old.id FROM unnest(budget_names, budget_starts) AS b (name, starts_at)
                       CROSS JOIN LATERAL (SELECT id FROM quota_spends
                                            WHERE budget = b.name AND spent_at < b.starts_at
                                            ORDER BY spent_at LIMIT 500) old)
      ), types_started AS (
        UPDATE job_types t
           SET start_tokens = refilled_tokens(t.start_tokens, t.tokens_at, t.max_starts, t.per_seconds, clock) - started.jobs,
               tokens_at = clock
          FROM (SELECT job_type, count(*) AS jobs FROM claimed GROUP BY job_type) started
         WHERE t.name = started.job_type AND t.max_starts IS NOT NULL
      ), keys_started AS (
        -- A start takes a token of a limited key; a start past an open breaker is its probe, and the breaker stays
        -- half open for the probe's lease.
        UPDATE rate_keys k
           SET start_tokens = coalesce(refilled_tokens(k.start_tokens, k.tokens_at, k.max_starts, k.per_seconds, clock)
                                       - started.jobs, k.start_tokens),
               tokens_at = CASE WHEN k.max_starts IS NULL THEN k.tokens_at ELSE clock END,
               breaker = CASE WHEN k.breaker = 'closed' THEN k.breaker ELSE 'half_open' END,
               breaker_until = CASE WHEN k.breaker = 'closed' THEN NULL
                                    ELSE clock + make_interval(secs => claim_lease_seconds) END
          FROM (SELECT rate_key, count(*) AS jobs FROM claimed GROUP BY rate_key) started
         WHERE k.key = started.rate_key AND (k.max_starts IS NOT NULL OR k.breaker <> 'closed')
      ), videos_started AS (
        UPDATE videos SET status = 'processing'
         WHERE videos.id IN (SELECT v.id FROM videos v JOIN claimed ON claimed.entity_type = 'video' AND v.id = claimed.entity_id
                              WHERE v.status = ANY(video_starts_from)
                              ORDER BY v.youtube_video_id FOR NO KEY UPDATE OF v)
      )
      SELECT * FROM claimed;
    END
    $function$;

CREATE OR REPLACE FUNCTION public.clear_job_type_counts()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      DELETE FROM processing_job_counts;
      RETURN NULL;
    END
    $function$;

CREATE OR REPLACE FUNCTION public.complete_jobs(job_keys uuid[], job_lease_tokens uuid[], job_results jsonb[], job_units integer[], video_completes_from video_status[])
 RETURNS SETOF processing_jobs
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
    BEGIN
      -- The jobs first, in one order, then their update: a lock taken in the update's own subquery was read again
      -- for every job of the batch (a nested loop over the sorted locks), a third of a completion's time.
      PERFORM 1 FROM processing_jobs WHERE id = ANY(job_keys) ORDER BY job_type, entity_type, entity_id, id FOR UPDATE;
      RETURN QUERY
      WITH done AS (
        UPDATE processing_jobs AS job
           SET status = 'completed', result = given.result, completed_at = now(), error_message = NULL,
               lease_token = NULL, lease_expires_at = NULL
          FROM unnest(job_keys, job_lease_tokens, job_results) AS given (id, lease_token, result)
         WHERE job.id = given.id AND job.status = 'running' AND job.lease_token = given.lease_token
        RETURNING job.*
      ), spent AS (
        -- What a worker reports it spent replaces what its claim counted.
        UPDATE quota_spends SET units = given.units
          FROM unnest(job_keys, job_lease_tokens, job_units) AS given (id, lease_token, units)
         WHERE quota_spends.lease_token = given.lease_token AND given.units IS NOT NULL
           AND given.id IN (SELECT id FROM done)
      ), recovered AS (
        -- A success ends its key's run of rate-limit errors and closes its breaker.
        UPDATE rate_keys SET rate_limited_in_a_row = 0, breaker = 'closed', breaker_until = NULL
         WHERE key IN (SELECT k.key FROM rate_keys k JOIN done ON done.rate_key = k.key
                        WHERE k.rate_limited_in_a_row > 0 OR k.breaker <> 'closed'
                        ORDER BY k.key FOR NO KEY UPDATE OF k)
      ), video AS (
        UPDATE videos SET status = 'completed', processed_at = now(), error_message = NULL
         WHERE videos.id IN (SELECT v.id FROM videos v JOIN done ON done.entity_type = 'video' AND v.id = done.entity_id
                              WHERE v.status = ANY(video_completes_from)
                              ORDER BY v.youtube_video_id FOR NO KEY UPDATE OF v)
      ), channel AS (
        UPDATE channels SET last_checked_at = now()
          FROM done
         WHERE done.entity_type = 'channel' AND done.job_type = 'channel_discovery' AND channels.id = done.entity_id
      )
      SELECT * FROM done;
    END
    $function$;

CREATE OR REPLACE FUNCTION public.count_deleted_jobs()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN IF current_setting('tubesensei.pruning', true) = 'on' THEN RETURN NULL; END IF;
    IF EXISTS (SELECT 1 FROM old_jobs WHERE session_id IS NOT NULL) THEN
      PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
         FROM (SELECT session_id, status, -1 AS delta FROM old_jobs) changes;
    END IF; RETURN NULL; END $function$;

CREATE OR REPLACE FUNCTION public.count_inserted_jobs()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
              BEGIN IF EXISTS (SELECT 1 FROM new_jobs WHERE session_id IS NOT NULL) THEN PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
                       FROM (SELECT session_id, status, 1 AS delta FROM new_jobs) changes; END IF; RETURN NULL; END $function$;

CREATE OR REPLACE FUNCTION public.count_job_types_deleted()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      INSERT INTO processing_job_counts (job_type, status, jobs, lease_expiries)
      SELECT job_type, status, -count(*), 0 FROM old_jobs GROUP BY job_type, status;
      RETURN NULL;
    END
    $function$;

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

CREATE OR REPLACE FUNCTION public.count_updated_jobs()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
              BEGIN IF EXISTS (SELECT 1 FROM new_jobs WHERE session_id IS NOT NULL) OR EXISTS (SELECT 1 FROM old_jobs WHERE session_id IS NOT NULL) THEN PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
                       FROM (SELECT session_id, status, 1 AS delta FROM new_jobs
              UNION ALL
              SELECT session_id, status, -1 FROM old_jobs) changes; END IF; RETURN NULL; END $function$;

CREATE OR REPLACE FUNCTION public.delete_jobs_of_deleted_entity()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      DELETE FROM processing_jobs WHERE entity_type = TG_ARGV[0]::job_entity_type AND entity_id = OLD.id;
      RETURN OLD;
    END
    $function$;

CREATE OR REPLACE FUNCTION public.enqueue_due_discoveries(batch_size integer)
 RETURNS SETOF processing_jobs
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
    BEGIN
      RETURN QUERY
      WITH due AS (
        SELECT c.id FROM channels c
         WHERE c.status = 'active' AND c.next_discovery_at <= now()
           AND NOT EXISTS (SELECT 1 FROM processing_jobs j
                            WHERE j.job_type = 'channel_discovery' AND j.entity_type = 'channel'
                              AND j.entity_id = c.id AND j.status IN ('queued', 'running'))
         ORDER BY c.next_discovery_at, c.id
         LIMIT batch_size
         FOR NO KEY UPDATE SKIP LOCKED
      ), moved AS (
        UPDATE channels c
           SET next_discovery_at = now()
                 + make_interval(secs => (c.processing_config -> 'discoverEveryHours')::double precision * 3600)
          FROM due WHERE c.id = due.id
        RETURNING c.id
      )
      INSERT INTO processing_jobs (job_type, entity_type, entity_id, metadata)
      SELECT 'channel_discovery', 'channel', moved.id, '{"scheduled": true}' FROM moved ORDER BY moved.id
      ON CONFLICT (job_type, entity_type, entity_id) WHERE status IN ('queued', 'running') DO NOTHING
      RETURNING *;
    END
    $function$;

CREATE OR REPLACE FUNCTION public.enqueue_jobs(jobs jsonb, trace text, video_queues_from video_status[])
 RETURNS TABLE(inserted boolean, job processing_jobs)
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
    DECLARE
      added processing_jobs[];
      found_videos uuid[];
      found_channels uuid[];
      missing record;
    BEGIN
      -- One job per key (the last one given), in the order every multi-row write of jobs takes, so batches over
      -- the same keys wait on each other instead of deadlocking. A key that has a queued or running job keeps it:
      -- DO UPDATE ... WHERE false locks that job without changing it, so it cannot finish before it is read below.
      -- A field left out takes its column's default (a test holds the two equal).
      WITH given AS (
        SELECT DISTINCT ON (g.job_type, g.entity_type, g.entity_id) g.*
          FROM jsonb_populate_recordset(NULL::processing_jobs, jobs) WITH ORDINALITY AS g
         ORDER BY g.job_type, g.entity_type, g.entity_id, g.ordinality DESC
      ), new AS (
        INSERT INTO processing_jobs (job_type, entity_type, entity_id, priority, max_attempts, session_id,
                                     run_after, metadata, rate_key, traceparent)
        SELECT job_type, entity_type, entity_id, coalesce(priority, 0), coalesce(max_attempts, 3), session_id,
               coalesce(run_after, now()), coalesce(metadata, '{}'), rate_key, trace
          FROM given ORDER BY job_type, entity_type, entity_id
            ON CONFLICT (job_type, entity_type, entity_id) WHERE status IN ('queued', 'running')
            DO UPDATE SET job_type = EXCLUDED.job_type WHERE false
        RETURNING processing_jobs
      )
      SELECT coalesce(array_agg(new.processing_jobs), '{}') INTO added FROM new;

      -- The new transcript jobs' videos are queued, locked first in YouTube id order.
      UPDATE videos SET status = 'queued'
       WHERE id IN (SELECT v.id FROM videos v
                     WHERE v.id IN (SELECT a.entity_id FROM unnest(added) a WHERE a.entity_type = 'video')
                       AND v.status = ANY(video_queues_from)
                     ORDER BY v.youtube_video_id FOR NO KEY UPDATE);

      -- What the jobs are about must exist, and is held (KEY SHARE) until the transaction ends, videos before
      -- channels as in every write: a concurrent delete either finished first, and is missing here, or waits and
      -- deletes the new jobs with its row. What is missing is what the locks did not find.
      SELECT coalesce(array_agg(v.id), '{}') INTO found_videos
        FROM (SELECT id FROM videos
               WHERE id IN (SELECT g.entity_id FROM jsonb_populate_recordset(NULL::processing_jobs, jobs) g
                             WHERE g.entity_type = 'video')
               ORDER BY youtube_video_id FOR KEY SHARE) v;
      SELECT coalesce(array_agg(c.id), '{}') INTO found_channels
        FROM (SELECT id FROM channels
               WHERE id IN (SELECT g.entity_id FROM jsonb_populate_recordset(NULL::processing_jobs, jobs) g
                             WHERE g.entity_type = 'channel')
               ORDER BY id FOR KEY SHARE) c;
      SELECT g.entity_type, g.entity_id INTO missing
        FROM jsonb_populate_recordset(NULL::processing_jobs, jobs) WITH ORDINALITY AS g
       WHERE g.entity_id <> ALL(CASE g.entity_type WHEN 'video' THEN found_videos ELSE found_channels END)
       ORDER BY g.ordinality
       LIMIT 1;
      IF FOUND THEN
        RAISE EXCEPTION '% % does not exist', missing.entity_type, missing.entity_id
          USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'processing_jobs_entity_exists',
                DETAIL = missing.entity_type || ' ' || missing.entity_id;
      END IF;

      RETURN QUERY SELECT true, a FROM unnest(added) a;
      -- The keys that had an active job already: the insert locked it, so it is active still. LIMIT 1 reads each
      -- through the index that keeps it one, where a join would hash every active job.
      RETURN QUERY
        SELECT false, found.active
          FROM jsonb_populate_recordset(NULL::processing_jobs, jobs) g
          CROSS JOIN LATERAL (
            SELECT active FROM processing_jobs active
             WHERE active.job_type = g.job_type AND active.entity_type = g.entity_type
               AND active.entity_id = g.entity_id AND active.status IN ('queued', 'running')
             LIMIT 1
          ) found
         WHERE NOT EXISTS (SELECT 1 FROM unnest(added) a
                            WHERE a.job_type = g.job_type AND a.entity_type = g.entity_type
                              AND a.entity_id = g.entity_id);
    END
    $function$;

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

CREATE OR REPLACE FUNCTION public.notify_claimable_jobs()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      -- Queued and not held; or a limited type's job that stopped running, which frees a place under its limit.
      IF EXISTS (SELECT 1 FROM new_jobs WHERE status = 'queued' AND NOT held)
         OR EXISTS (SELECT 1 FROM new_jobs n JOIN job_types t ON t.name = n.job_type
                     WHERE n.status <> 'running' AND t.max_running IS NOT NULL) THEN
        PERFORM pg_notify('processing_jobs_claimable', '');
      END IF;
      RETURN NULL;
    END
    $function$;

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

CREATE OR REPLACE FUNCTION public.prune_finished_jobs(finished_before timestamp with time zone, batch_size integer)
 RETURNS integer
 LANGUAGE plpgsql
AS $function$
    DECLARE
      pruned integer;
    BEGIN
      PERFORM set_config('tubesensei.pruning', 'on', true);
      DELETE FROM processing_jobs
       WHERE id IN (SELECT id FROM processing_jobs
                     WHERE status IN ('completed', 'failed', 'cancelled') AND completed_at < finished_before
                     ORDER BY completed_at LIMIT batch_size FOR UPDATE SKIP LOCKED);
      GET DIAGNOSTICS pruned = ROW_COUNT;
      PERFORM set_config('tubesensei.pruning', '', true);
      RETURN pruned;
    END
    $function$;

CREATE OR REPLACE FUNCTION public.quota_window(budget_name text, clock timestamp with time zone)
 RETURNS TABLE(starts_at timestamp with time zone, resets_at timestamp with time zone, used bigint)
 LANGUAGE sql
 STABLE
AS $function$
      -- A calendar day starts at local midnight, whatever the day's length; a rolling window counts the spends of
      -- its last window_seconds, and gives units back as its oldest spend leaves it.
      SELECT w.starts_at,
             CASE WHEN b.time_zone IS NOT NULL
                  THEN (date_trunc('day', clock AT TIME ZONE b.time_zone) + interval '1 day') AT TIME ZONE b.time_zone
                  ELSE (SELECT min(s.spent_at) FROM quota_spends s
                         WHERE s.budget = b.name AND s.spent_at > w.starts_at AND s.units > 0)
                       + make_interval(secs => b.window_seconds) END,
             (SELECT coalesce(sum(s.units), 0) FROM quota_spends s
               WHERE s.budget = b.name AND s.spent_at >= w.starts_at
                 AND (b.time_zone IS NOT NULL OR s.spent_at > w.starts_at))::bigint
        FROM quota_budgets b
       CROSS JOIN LATERAL (
         SELECT CASE WHEN b.time_zone IS NOT NULL
                     THEN date_trunc('day', clock AT TIME ZONE b.time_zone) AT TIME ZONE b.time_zone
                     ELSE clock - make_interval(secs => b.window_seconds) END AS starts_at) w
       WHERE b.name = budget_name
    $function$;

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

CREATE OR REPLACE FUNCTION public.release_job_hold()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
    BEGIN
      NEW.held := false;
      RETURN NEW;
    END
    $function$;

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

CREATE TRIGGER channels_delete_jobs AFTER DELETE ON public.channels FOR EACH ROW EXECUTE FUNCTION delete_jobs_of_deleted_entity('channel');
CREATE TRIGGER channels_schedule_discovery_inserted BEFORE INSERT ON public.channels FOR EACH ROW EXECUTE FUNCTION schedule_channel_discovery();
CREATE TRIGGER channels_schedule_discovery_updated BEFORE UPDATE OF last_checked_at, processing_config ON public.channels FOR EACH ROW WHEN (((old.last_checked_at IS DISTINCT FROM new.last_checked_at) OR ((old.processing_config -> 'discoverEveryHours'::text) IS DISTINCT FROM (new.processing_config -> 'discoverEveryHours'::text)))) EXECUTE FUNCTION schedule_channel_discovery();
CREATE TRIGGER channels_set_updated_at BEFORE UPDATE ON public.channels FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER job_types_set_updated_at BEFORE UPDATE ON public.job_types FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER processing_jobs_count_deleted AFTER DELETE ON public.processing_jobs REFERENCING OLD TABLE AS old_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_jobs();
CREATE TRIGGER processing_jobs_count_inserted AFTER INSERT ON public.processing_jobs REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_jobs();
CREATE TRIGGER processing_jobs_count_types_deleted AFTER DELETE ON public.processing_jobs REFERENCING OLD TABLE AS old_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_job_types_deleted();
CREATE TRIGGER processing_jobs_count_types_inserted AFTER INSERT ON public.processing_jobs REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_job_types_inserted();
CREATE TRIGGER processing_jobs_count_types_truncated AFTER TRUNCATE ON public.processing_jobs FOR EACH STATEMENT EXECUTE FUNCTION clear_job_type_counts();
CREATE TRIGGER processing_jobs_count_types_updated AFTER UPDATE ON public.processing_jobs REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_job_types_updated();
CREATE TRIGGER processing_jobs_count_updated AFTER UPDATE ON public.processing_jobs REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_updated_jobs();
CREATE TRIGGER processing_jobs_follow_session_inserted BEFORE INSERT ON public.processing_jobs FOR EACH ROW WHEN (((new.session_id IS NOT NULL) AND (new.status = ANY (ARRAY['queued'::job_status, 'running'::job_status])))) EXECUTE FUNCTION follow_job_session();
CREATE TRIGGER processing_jobs_follow_session_updated BEFORE UPDATE OF status, session_id ON public.processing_jobs FOR EACH ROW WHEN (((new.session_id IS NOT NULL) AND (((new.status = 'queued'::job_status) AND (old.status <> 'queued'::job_status)) OR ((new.status = ANY (ARRAY['queued'::job_status, 'running'::job_status])) AND (old.session_id IS DISTINCT FROM new.session_id))))) EXECUTE FUNCTION follow_job_session();
CREATE TRIGGER processing_jobs_notify_inserted AFTER INSERT ON public.processing_jobs REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION notify_claimable_jobs();
CREATE TRIGGER processing_jobs_notify_updated AFTER UPDATE ON public.processing_jobs REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION notify_claimable_jobs();
CREATE TRIGGER processing_jobs_place_in_key BEFORE INSERT ON public.processing_jobs FOR EACH ROW WHEN (((new.rate_key IS NULL) OR (new.status = ANY (ARRAY['queued'::job_status, 'running'::job_status])))) EXECUTE FUNCTION place_job_in_its_key();
CREATE TRIGGER processing_jobs_release_hold BEFORE UPDATE ON public.processing_jobs FOR EACH ROW WHEN ((new.held AND ((new.session_id IS NULL) OR (new.status <> ALL (ARRAY['queued'::job_status, 'running'::job_status]))))) EXECUTE FUNCTION release_job_hold();
CREATE TRIGGER processing_jobs_set_updated_at BEFORE UPDATE ON public.processing_jobs FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER processing_sessions_set_updated_at BEFORE UPDATE ON public.processing_sessions FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER quota_budgets_set_updated_at BEFORE UPDATE ON public.quota_budgets FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER rate_keys_set_updated_at BEFORE UPDATE ON public.rate_keys FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER transcripts_set_updated_at BEFORE UPDATE ON public.transcripts FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER videos_delete_jobs AFTER DELETE ON public.videos FOR EACH ROW EXECUTE FUNCTION delete_jobs_of_deleted_entity('video');
CREATE TRIGGER videos_set_updated_at BEFORE UPDATE ON public.videos FOR EACH ROW EXECUTE FUNCTION set_updated_at();
