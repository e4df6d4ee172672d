import type { Knex } from 'knex';

/*
 * What the queue needs to know to respect YouTube's limits; the claim that obeys it comes in the next migration.
 * - Quota budgets: a named capacity of units per window, either a calendar day in an IANA time zone (it resets at
 *   local midnight, so a day can last 23 or 25 hours) or a rolling window of some seconds. A job type may spend a
 *   fixed number of units of one budget per claim. Each claim writes what it spent to `quota_spends`, keyed by the
 *   lease it issued, so a worker can correct the figure when it reports what it really spent; a budget's use is the
 *   sum of its window's spends, and `exhausted_until` marks it spent when YouTube says so before the ledger does.
 * - Rate keys: a job carries a key (`rate_key`: its channel unless the enqueuer names another, such as an egress
 *   address). A key or a job type may have a token bucket of starts (`max_starts` per `per_seconds`, refilled
 *   continuously) and a cool-down; a key also has a breaker that opens after a run of rate-limit errors. A key
 *   has a row only once it is limited or rate-limited.
 * - Fairness: a job's `fair_round` is one past the last active job of its type and key, and never behind the round
 *   the type is serving (the newest lease), so the claim's order (priority, then round) takes one job per key per
 *   round: a channel's backlog no longer holds back a new job of another channel. Existing active jobs are
 *   numbered within their key as they would have been.
 * - Why a queued job waits until its `run_after`, when it does: a retry, a snooze, a rate limit, a spent budget.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TYPE job_wait_reason AS ENUM ('retry', 'snoozed', 'rate_limited', 'quota_exhausted');
    CREATE TYPE breaker_state AS ENUM ('closed', 'open', 'half_open');

    CREATE TABLE quota_budgets (
      name            text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,62}$'),
      capacity        integer NOT NULL CHECK (capacity >= 0),
      -- A zone PostgreSQL does not know fails the check with an error of its own.
      time_zone       text CHECK (time_zone IS NULL OR (timestamptz '2026-01-01 00:00+00' AT TIME ZONE time_zone) IS NOT NULL),
      window_seconds  integer CHECK (window_seconds BETWEEN 1 AND 86400),
      exhausted_until timestamptz(3),
      updated_at      timestamptz(3) NOT NULL DEFAULT now(),
      CONSTRAINT quota_budgets_one_window CHECK ((time_zone IS NULL) <> (window_seconds IS NULL))
    );
    CREATE TRIGGER quota_budgets_set_updated_at BEFORE UPDATE ON quota_budgets
      FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    CREATE TABLE quota_spends (
      id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      budget      text NOT NULL REFERENCES quota_budgets (name) ON UPDATE CASCADE ON DELETE CASCADE,
      spent_at    timestamptz(3) NOT NULL,
      units       integer NOT NULL CHECK (units >= 0),
      job_id      uuid NOT NULL,
      lease_token uuid NOT NULL CONSTRAINT quota_spends_lease_token_key UNIQUE
    );
    CREATE INDEX quota_spends_window_idx ON quota_spends (budget, spent_at) INCLUDE (units);

    CREATE TABLE rate_keys (
      key                      text PRIMARY KEY CHECK (key ~ '^[A-Za-z0-9][A-Za-z0-9:._@-]{0,199}$'),
      max_starts               integer CHECK (max_starts BETWEEN 1 AND 1000000),
      per_seconds              integer CHECK (per_seconds BETWEEN 1 AND 86400),
      start_tokens             double precision NOT NULL DEFAULT 0 CHECK (start_tokens >= 0),
      tokens_at                timestamptz(3),
      cooldown_until           timestamptz(3),
      rate_limited_in_a_row    integer NOT NULL DEFAULT 0 CHECK (rate_limited_in_a_row >= 0),
      breaker_threshold        integer NOT NULL DEFAULT 3 CHECK (breaker_threshold BETWEEN 1 AND 1000),
      breaker_cooldown_seconds integer NOT NULL DEFAULT 600 CHECK (breaker_cooldown_seconds BETWEEN 1 AND 86400),
      breaker                  breaker_state NOT NULL DEFAULT 'closed',
      breaker_until            timestamptz(3),
      updated_at               timestamptz(3) NOT NULL DEFAULT now(),
      CONSTRAINT rate_keys_rate_whole CHECK ((max_starts IS NULL) = (per_seconds IS NULL)),
      CONSTRAINT rate_keys_breaker_until CHECK ((breaker = 'closed') = (breaker_until IS NULL))
    );
    CREATE TRIGGER rate_keys_set_updated_at BEFORE UPDATE ON rate_keys
      FOR EACH ROW EXECUTE FUNCTION set_updated_at();

    ALTER TABLE job_types
      ADD COLUMN budget text REFERENCES quota_budgets (name) ON UPDATE CASCADE,
      ADD COLUMN budget_cost integer CHECK (budget_cost BETWEEN 1 AND 1000000),
      ADD COLUMN max_starts integer CHECK (max_starts BETWEEN 1 AND 1000000),
      ADD COLUMN per_seconds integer CHECK (per_seconds BETWEEN 1 AND 86400),
      ADD COLUMN start_tokens double precision NOT NULL DEFAULT 0 CHECK (start_tokens >= 0),
      ADD COLUMN tokens_at timestamptz(3),
      ADD COLUMN cooldown_until timestamptz(3),
      ADD CONSTRAINT job_types_budget_whole CHECK ((budget IS NULL) = (budget_cost IS NULL)),
      ADD CONSTRAINT job_types_rate_whole CHECK ((max_starts IS NULL) = (per_seconds IS NULL));

    ALTER TABLE processing_jobs
      ADD COLUMN rate_key text CONSTRAINT processing_jobs_rate_key_check CHECK (rate_key ~ '^[A-Za-z0-9][A-Za-z0-9:._@-]{0,199}$'),
      ADD COLUMN fair_round bigint NOT NULL DEFAULT 0,
      ADD COLUMN wait_reason job_wait_reason,
      ADD COLUMN wait_detail text;
    UPDATE processing_jobs j SET rate_key = 'channel:' || coalesce(
      (SELECT v.channel_id FROM videos v WHERE j.entity_type = 'video' AND v.id = j.entity_id), j.entity_id);
    UPDATE processing_jobs j SET fair_round = numbered.round
      FROM (SELECT id, row_number() OVER (PARTITION BY job_type, rate_key ORDER BY priority DESC, created_at, id) - 1 AS round
              FROM processing_jobs WHERE status IN ('queued', 'running')) numbered
     WHERE numbered.id = j.id;
    ALTER TABLE processing_jobs ALTER COLUMN rate_key SET NOT NULL;

    DROP INDEX processing_jobs_runnable_idx;
    CREATE INDEX processing_jobs_runnable_idx
      ON processing_jobs (job_type, priority DESC, fair_round, created_at, id) INCLUDE (run_after, rate_key)
      WHERE status = 'queued' AND NOT held;
    CREATE INDEX processing_jobs_key_round_idx
      ON processing_jobs (job_type, rate_key, fair_round) WHERE status IN ('queued', 'running');

    CREATE FUNCTION place_job_in_its_key() RETURNS trigger LANGUAGE plpgsql AS $$
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
    $$;
    CREATE TRIGGER processing_jobs_place_in_key BEFORE INSERT ON processing_jobs
      FOR EACH ROW WHEN (NEW.rate_key IS NULL OR NEW.status IN ('queued', 'running'))
      EXECUTE FUNCTION place_job_in_its_key();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER processing_jobs_place_in_key ON processing_jobs;
    DROP FUNCTION place_job_in_its_key();
    DROP INDEX processing_jobs_key_round_idx;
    DROP INDEX processing_jobs_runnable_idx;
    CREATE INDEX processing_jobs_runnable_idx
      ON processing_jobs (job_type, priority DESC, created_at, id) INCLUDE (run_after)
      WHERE status = 'queued' AND NOT held;
    ALTER TABLE processing_jobs
      DROP COLUMN wait_detail,
      DROP COLUMN wait_reason,
      DROP COLUMN fair_round,
      DROP COLUMN rate_key;
    ALTER TABLE job_types
      DROP CONSTRAINT job_types_rate_whole,
      DROP CONSTRAINT job_types_budget_whole,
      DROP COLUMN cooldown_until,
      DROP COLUMN tokens_at,
      DROP COLUMN start_tokens,
      DROP COLUMN per_seconds,
      DROP COLUMN max_starts,
      DROP COLUMN budget_cost,
      DROP COLUMN budget;
    DROP TABLE rate_keys;
    DROP TABLE quota_spends;
    DROP TABLE quota_budgets;
    DROP TYPE breaker_state;
    DROP TYPE job_wait_reason;
  `);
}
