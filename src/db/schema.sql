-- The schema a freshly migrated database holds: written by `npm run db:snapshot` from its catalog, never by
-- hand; CI fails when the migrations make anything else. knex's own tables are left out.

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE TYPE channel_status AS ENUM ('active', 'paused', 'inactive');
CREATE TYPE job_entity_type AS ENUM ('channel', 'video');
CREATE TYPE job_status AS ENUM ('queued', 'running', 'completed', 'failed', 'cancelled');
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
    CONSTRAINT job_types_pkey PRIMARY KEY (name),
    CONSTRAINT job_types_name_entity_type_key UNIQUE (name, entity_type),
    CONSTRAINT job_types_max_running_check CHECK ((max_running >= 0)),
    CONSTRAINT job_types_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text))
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
    traceparent text,
    CONSTRAINT processing_jobs_pkey PRIMARY KEY (id),
    CONSTRAINT processing_jobs_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT processing_jobs_attempts_within_max CHECK ((attempts <= max_attempts)),
    CONSTRAINT processing_jobs_held_by_a_session CHECK (((NOT held) OR (session_id IS NOT NULL))),
    CONSTRAINT processing_jobs_max_attempts_check CHECK ((max_attempts >= 1)),
    CONSTRAINT processing_jobs_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
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

ALTER TABLE ONLY processing_jobs ADD CONSTRAINT processing_jobs_job_type_fkey FOREIGN KEY (job_type, entity_type) REFERENCES job_types(name, entity_type);
ALTER TABLE ONLY processing_jobs ADD CONSTRAINT processing_jobs_session_id_fkey FOREIGN KEY (session_id) REFERENCES processing_sessions(id) ON DELETE SET NULL;
ALTER TABLE ONLY processing_session_job_counts ADD CONSTRAINT processing_session_job_counts_session_id_fkey FOREIGN KEY (session_id) REFERENCES processing_sessions(id) ON DELETE CASCADE;
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
CREATE INDEX processing_jobs_lease_exhausted_idx ON public.processing_jobs USING btree (lease_expires_at) WHERE ((status = 'running'::job_status) AND (attempts >= max_attempts));
CREATE UNIQUE INDEX processing_jobs_one_active_per_entity ON public.processing_jobs USING btree (job_type, entity_type, entity_id) WHERE (status = ANY (ARRAY['queued'::job_status, 'running'::job_status]));
CREATE INDEX processing_jobs_reclaimable_idx ON public.processing_jobs USING btree (lease_expires_at) INCLUDE (job_type) WHERE ((status = 'running'::job_status) AND (attempts < max_attempts));
CREATE INDEX processing_jobs_runnable_idx ON public.processing_jobs USING btree (job_type, priority DESC, created_at, id) INCLUDE (run_after) WHERE ((status = 'queued'::job_status) AND (NOT held));
CREATE INDEX processing_jobs_running_type_idx ON public.processing_jobs USING btree (job_type, lease_expires_at) WHERE (status = 'running'::job_status);
CREATE INDEX processing_jobs_scheduled_idx ON public.processing_jobs USING btree (run_after) WHERE ((status = 'queued'::job_status) AND (NOT held));
CREATE INDEX processing_jobs_session_id_created_at_id_idx ON public.processing_jobs USING btree (session_id, created_at DESC, id DESC) WHERE (session_id IS NOT NULL);
CREATE INDEX processing_jobs_status_created_at_id_idx ON public.processing_jobs USING btree (status, created_at DESC, id DESC);
CREATE INDEX processing_session_job_counts_session_id_idx ON public.processing_session_job_counts USING btree (session_id) INCLUDE (status, jobs);
CREATE INDEX processing_sessions_created_at_id_idx ON public.processing_sessions USING btree (created_at DESC, id DESC);
CREATE INDEX processing_sessions_status_created_at_id_idx ON public.processing_sessions USING btree (status, created_at DESC, id DESC);
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

CREATE OR REPLACE FUNCTION public.claim_jobs(claim_worker text, claim_types text[], claim_limit integer, claim_lease_seconds double precision, video_starts_from video_status[], video_fails_from video_status[])
 RETURNS SETOF processing_jobs
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
    DECLARE
      type_names text[];
      type_caps integer[];
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

      -- Limited types in name order, each locked until this claim commits; then, in a new snapshot, the room
      -- each type has: the claim's limit, or less under a running limit (live leases counted up to the limit).
      PERFORM 1 FROM job_types
        WHERE max_running IS NOT NULL AND (claim_types IS NULL OR name = ANY(claim_types))
        ORDER BY name FOR NO KEY UPDATE;
      SELECT coalesce(array_agg(t.name ORDER BY t.name), '{}'),
             coalesce(array_agg(CASE WHEN t.max_running IS NULL THEN claim_limit
                                     ELSE least(claim_limit, greatest(0, t.max_running - (
                                       SELECT count(*) FROM (
                                         SELECT 1 FROM processing_jobs j
                                          WHERE j.status = 'running' AND j.job_type = t.name AND j.lease_expires_at >= now()
                                          LIMIT t.max_running) live))::integer) END
                                ORDER BY t.name), '{}')
        INTO type_names, type_caps
        FROM job_types t
       WHERE claim_types IS NULL OR t.name = ANY(claim_types);

      RETURN QUERY
      WITH candidates AS (
        -- Each type's best queued and expired-lease jobs, up to its room, each scan on an index of its own type.
        SELECT g.name, g.cap, c.id, c.priority, c.created_at
          FROM (SELECT * FROM unnest(type_names, type_caps) AS t (name, cap) WHERE t.cap > 0) g
         CROSS JOIN LATERAL (
           SELECT * FROM (
             SELECT id, priority, created_at FROM processing_jobs
              WHERE status = 'queued' AND NOT held AND run_after <= now() AND job_type = g.name
              ORDER BY priority DESC, created_at, id
              LIMIT g.cap FOR UPDATE SKIP LOCKED) queued
           UNION ALL
           SELECT * FROM (
             SELECT id, priority, created_at FROM processing_jobs
              WHERE status = 'running' AND NOT held AND lease_expires_at < now() AND attempts < max_attempts
                AND job_type = g.name
              ORDER BY lease_expires_at
              LIMIT g.cap FOR UPDATE SKIP LOCKED) expired
         ) c
      ), chosen AS (
        SELECT id FROM (
          SELECT id, priority, created_at, cap,
                 row_number() OVER (PARTITION BY name ORDER BY priority DESC, created_at, id) AS nth
            FROM candidates) ranked
         WHERE nth <= cap
         ORDER BY priority DESC, created_at, id
         LIMIT claim_limit
      ), claimed AS (
        UPDATE processing_jobs AS job
           SET status = 'running', attempts = job.attempts + 1, locked_by = claim_worker, locked_at = now(),
               lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => claim_lease_seconds),
               started_at = coalesce(job.started_at, now())
          FROM chosen WHERE job.id = chosen.id
        RETURNING job.*
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

CREATE OR REPLACE FUNCTION public.complete_jobs(job_keys uuid[], job_lease_tokens uuid[], job_results jsonb[], video_completes_from video_status[])
 RETURNS SETOF processing_jobs
 LANGUAGE plpgsql
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
    BEGIN
      RETURN QUERY
      WITH done AS (
        UPDATE processing_jobs AS job
           SET status = 'completed', result = given.result, completed_at = now(), error_message = NULL,
               lease_token = NULL, lease_expires_at = NULL
          FROM unnest(job_keys, job_lease_tokens, job_results) AS given (id, lease_token, result)
         WHERE job.id = given.id AND job.status = 'running' AND job.lease_token = given.lease_token
           AND job.id IN (SELECT id FROM processing_jobs WHERE id = ANY(job_keys)
                           ORDER BY job_type, entity_type, entity_id, id FOR UPDATE)
        RETURNING job.*
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
CREATE TRIGGER processing_jobs_release_hold BEFORE UPDATE ON public.processing_jobs FOR EACH ROW WHEN ((new.held AND ((new.session_id IS NULL) OR (new.status <> ALL (ARRAY['queued'::job_status, 'running'::job_status]))))) EXECUTE FUNCTION release_job_hold();
CREATE TRIGGER processing_jobs_set_updated_at BEFORE UPDATE ON public.processing_jobs FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER processing_sessions_set_updated_at BEFORE UPDATE ON public.processing_sessions FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER transcripts_set_updated_at BEFORE UPDATE ON public.transcripts FOR EACH ROW EXECUTE FUNCTION set_updated_at();
CREATE TRIGGER videos_delete_jobs AFTER DELETE ON public.videos FOR EACH ROW EXECUTE FUNCTION delete_jobs_of_deleted_entity('video');
CREATE TRIGGER videos_set_updated_at BEFORE UPDATE ON public.videos FOR EACH ROW EXECUTE FUNCTION set_updated_at();
