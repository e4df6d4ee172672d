import type { Knex } from 'knex';

/*
 * A session's progress, kept as it changes instead of counted on every read. Counting a session's jobs by status
 * reads every one of its index entries: about 20 ms for a session of 117,000 jobs, and the planner turns to a
 * sequential scan once a session holds a large share of the table. Statement-level triggers on processing_jobs
 * add each statement's changes per (session, status) to processing_session_job_counts, so a read sums a few rows.
 *
 * The counts are spread over 16 shards, picked by the writing connection, so concurrent workers finishing jobs of
 * one session update different rows instead of queueing on one row lock. One statement's changes are written in
 * one INSERT, in key order, so two writers cannot lock the same rows in opposite orders. The count index on
 * processing_jobs (session_id, status) served only the old count and goes.
 */

/** The statement that adds one statement's changes to the counts; migration 20261125000008 moves it to PL/pgSQL. */
const addSessionJobCounts = `
      INSERT INTO processing_session_job_counts AS counts (session_id, status, shard, jobs)
      SELECT c.session_id, c.status, pg_backend_pid() % 16, sum(c.delta)
        FROM unnest(session_ids, statuses, deltas) AS c (session_id, status, delta)
       WHERE c.session_id IS NOT NULL
         AND EXISTS (SELECT 1 FROM processing_sessions s WHERE s.id = c.session_id)
       GROUP BY c.session_id, c.status
      HAVING sum(c.delta) <> 0
       ORDER BY c.session_id, c.status
      ON CONFLICT (session_id, status, shard) DO UPDATE SET jobs = counts.jobs + excluded.jobs`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE processing_session_job_counts (
      session_id uuid NOT NULL REFERENCES processing_sessions (id) ON DELETE CASCADE,
      status     job_status NOT NULL,
      shard      smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
      jobs       bigint NOT NULL,
      PRIMARY KEY (session_id, status, shard)
    );

    INSERT INTO processing_session_job_counts (session_id, status, shard, jobs)
    SELECT session_id, status, 0, count(*) FROM processing_jobs WHERE session_id IS NOT NULL GROUP BY 1, 2;

    -- Adds one statement's changes. A deleted session's rows go with it (ON DELETE CASCADE); the SET NULL of its
    -- jobs that follows must not bring them back, hence the EXISTS.
    CREATE FUNCTION add_session_job_counts(session_ids uuid[], statuses job_status[], deltas integer[])
    RETURNS void LANGUAGE sql AS $$
      ${addSessionJobCounts}
    $$;

    -- PostgreSQL gives transition tables to single-event triggers only: one function per event.
    CREATE FUNCTION count_inserted_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(1)) FROM new_jobs;
      RETURN NULL;
    END
    $$;
    CREATE FUNCTION count_deleted_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(-1)) FROM old_jobs;
      RETURN NULL;
    END
    $$;
    CREATE FUNCTION count_updated_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
         FROM (SELECT session_id, status, 1 AS delta FROM new_jobs
               UNION ALL
               SELECT session_id, status, -1 FROM old_jobs) changes;
      RETURN NULL;
    END
    $$;

    CREATE TRIGGER processing_jobs_count_inserted AFTER INSERT ON processing_jobs
      REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_inserted_jobs();
    CREATE TRIGGER processing_jobs_count_deleted AFTER DELETE ON processing_jobs
      REFERENCING OLD TABLE AS old_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_deleted_jobs();
    CREATE TRIGGER processing_jobs_count_updated AFTER UPDATE ON processing_jobs
      REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_updated_jobs();

    DROP INDEX processing_jobs_session_id_status_idx;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE INDEX processing_jobs_session_id_status_idx
      ON processing_jobs (session_id, status) WHERE session_id IS NOT NULL;
    DROP TRIGGER processing_jobs_count_updated ON processing_jobs;
    DROP TRIGGER processing_jobs_count_deleted ON processing_jobs;
    DROP TRIGGER processing_jobs_count_inserted ON processing_jobs;
    DROP FUNCTION count_updated_jobs();
    DROP FUNCTION count_deleted_jobs();
    DROP FUNCTION count_inserted_jobs();
    DROP FUNCTION add_session_job_counts(uuid[], job_status[], integer[]);
    DROP TABLE processing_session_job_counts;
  `);
}
