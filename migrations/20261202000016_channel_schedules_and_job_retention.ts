import type { Knex } from 'knex';

/*
 * Channel schedules and bounded job history.
 * - A channel with `processing_config.discoverEveryHours` is due for discovery at `next_discovery_at`: kept by a
 *   trigger as its last check plus that many hours (since its creation when it was never checked), NULL without a schedule.
 *   `enqueue_due_discoveries` takes a batch of due, active channels that have no active discovery job, in due
 *   order with SKIP LOCKED, moves each one's `next_discovery_at` a period on, and enqueues one job for each. The
 *   row lock and the move are the key per period: a second scheduler either skips a channel another holds or,
 *   once that one commits, finds it no longer due, so concurrent schedulers enqueue each due channel once. A
 *   completed discovery stamps `last_checked_at`, which sets the next time from the real check; a failed one
 *   leaves the moved time, so a broken channel is tried once a period, not on every tick.
 * - `prune_finished_jobs` deletes finished jobs older than a cutoff, a small batch per call, oldest first. A
 *   pruned job still counts in its session's progress: the delete skips the counts trigger for its own
 *   statement, so totals and `processed_videos` stay as they were.
 */

const countDeletedJobs = (body: string) => `
    CREATE OR REPLACE FUNCTION count_deleted_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN ${body} RETURN NULL; END $$;`;

const countDeleted = `IF EXISTS (SELECT 1 FROM old_jobs WHERE session_id IS NOT NULL) THEN
      PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
         FROM (SELECT session_id, status, -1 AS delta FROM old_jobs) changes;
    END IF;`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    ALTER TABLE channels ADD COLUMN next_discovery_at timestamptz(3),
      ADD CONSTRAINT channels_discover_every_hours_positive CHECK (
        CASE jsonb_typeof(processing_config -> 'discoverEveryHours')
          WHEN 'number' THEN (processing_config -> 'discoverEveryHours')::double precision BETWEEN 0.01 AND 8760
          ELSE processing_config -> 'discoverEveryHours' IS NULL
        END);

    CREATE FUNCTION schedule_channel_discovery() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      NEW.next_discovery_at := CASE
        WHEN NEW.processing_config -> 'discoverEveryHours' IS NULL THEN NULL
        WHEN NEW.last_checked_at IS NULL THEN NEW.created_at
        ELSE NEW.last_checked_at
             + make_interval(secs => (NEW.processing_config -> 'discoverEveryHours')::double precision * 3600)
      END;
      RETURN NEW;
    END
    $$;
    CREATE TRIGGER channels_schedule_discovery_inserted BEFORE INSERT ON channels
      FOR EACH ROW EXECUTE FUNCTION schedule_channel_discovery();
    CREATE TRIGGER channels_schedule_discovery_updated BEFORE UPDATE OF last_checked_at, processing_config ON channels
      FOR EACH ROW WHEN (OLD.last_checked_at IS DISTINCT FROM NEW.last_checked_at
                         OR OLD.processing_config -> 'discoverEveryHours'
                            IS DISTINCT FROM NEW.processing_config -> 'discoverEveryHours')
      EXECUTE FUNCTION schedule_channel_discovery();
    UPDATE channels SET next_discovery_at = CASE
                          WHEN processing_config -> 'discoverEveryHours' IS NULL THEN NULL
                          WHEN last_checked_at IS NULL THEN created_at
                          ELSE last_checked_at + make_interval(
                                 secs => (processing_config -> 'discoverEveryHours')::double precision * 3600)
                        END
     WHERE processing_config -> 'discoverEveryHours' IS NOT NULL;

    CREATE INDEX channels_due_idx ON channels (next_discovery_at, id) WHERE status = 'active';

    CREATE FUNCTION enqueue_due_discoveries(batch_size integer) RETURNS SETOF processing_jobs LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
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
    $$;

    CREATE INDEX processing_jobs_finished_idx ON processing_jobs (completed_at)
      WHERE status IN ('completed', 'failed', 'cancelled');

    ${countDeletedJobs(`IF current_setting('tubesensei.pruning', true) = 'on' THEN RETURN NULL; END IF;
    ${countDeleted}`)}

    CREATE FUNCTION prune_finished_jobs(finished_before timestamptz, batch_size integer) RETURNS integer
    LANGUAGE plpgsql AS $$
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
    $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION prune_finished_jobs(timestamptz, integer);
    ${countDeletedJobs(countDeleted)}
    DROP INDEX processing_jobs_finished_idx;
    DROP FUNCTION enqueue_due_discoveries(integer);
    DROP INDEX channels_due_idx;
    DROP TRIGGER channels_schedule_discovery_updated ON channels;
    DROP TRIGGER channels_schedule_discovery_inserted ON channels;
    DROP FUNCTION schedule_channel_discovery();
    ALTER TABLE channels DROP CONSTRAINT channels_discover_every_hours_positive, DROP COLUMN next_discovery_at;
  `);
}
