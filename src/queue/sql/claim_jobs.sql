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
