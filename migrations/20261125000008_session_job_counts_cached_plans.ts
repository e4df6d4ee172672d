import type { Knex } from 'knex';

/*
 * The session counters' functions, made cheap for the queue's hot path. A LANGUAGE sql function that writes is
 * planned again on every call, and the trigger called it on every statement, with or without session jobs: about
 * a quarter of a claim's execution time. In PL/pgSQL the INSERT's plan is cached for the connection, and a
 * statement that touched no job of a session returns before building any arrays.
 */

const withSessionJobs = (table: string) => `EXISTS (SELECT 1 FROM ${table} WHERE session_id IS NOT NULL)`;

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION add_session_job_counts(session_ids uuid[], statuses job_status[], deltas integer[])
    RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO processing_session_job_counts AS counts (session_id, status, shard, jobs)
      SELECT c.session_id, c.status, pg_backend_pid() % 16, sum(c.delta)
        FROM unnest(session_ids, statuses, deltas) AS c (session_id, status, delta)
       WHERE c.session_id IS NOT NULL
         AND EXISTS (SELECT 1 FROM processing_sessions s WHERE s.id = c.session_id)
       GROUP BY c.session_id, c.status
      HAVING sum(c.delta) <> 0
       ORDER BY c.session_id, c.status
      ON CONFLICT (session_id, status, shard) DO UPDATE SET jobs = counts.jobs + excluded.jobs;
    END
    $$;

    CREATE OR REPLACE FUNCTION count_inserted_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF ${withSessionJobs('new_jobs')} THEN
        PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(1)) FROM new_jobs;
      END IF;
      RETURN NULL;
    END
    $$;
    CREATE OR REPLACE FUNCTION count_deleted_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF ${withSessionJobs('old_jobs')} THEN
        PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(-1)) FROM old_jobs;
      END IF;
      RETURN NULL;
    END
    $$;
    CREATE OR REPLACE FUNCTION count_updated_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF ${withSessionJobs('new_jobs')} OR ${withSessionJobs('old_jobs')} THEN
        PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
           FROM (SELECT session_id, status, 1 AS delta FROM new_jobs
                 UNION ALL
                 SELECT session_id, status, -1 FROM old_jobs) changes;
      END IF;
      RETURN NULL;
    END
    $$;
  `);
}

/** Back to the functions of migration 20261125000007. */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE OR REPLACE FUNCTION add_session_job_counts(session_ids uuid[], statuses job_status[], deltas integer[])
    RETURNS void LANGUAGE sql AS $$
      INSERT INTO processing_session_job_counts AS counts (session_id, status, shard, jobs)
      SELECT c.session_id, c.status, pg_backend_pid() % 16, sum(c.delta)
        FROM unnest(session_ids, statuses, deltas) AS c (session_id, status, delta)
       WHERE c.session_id IS NOT NULL
         AND EXISTS (SELECT 1 FROM processing_sessions s WHERE s.id = c.session_id)
       GROUP BY c.session_id, c.status
      HAVING sum(c.delta) <> 0
       ORDER BY c.session_id, c.status
      ON CONFLICT (session_id, status, shard) DO UPDATE SET jobs = counts.jobs + excluded.jobs
    $$;

    CREATE OR REPLACE FUNCTION count_inserted_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(1)) FROM new_jobs;
      RETURN NULL;
    END
    $$;
    CREATE OR REPLACE FUNCTION count_deleted_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(-1)) FROM old_jobs;
      RETURN NULL;
    END
    $$;
    CREATE OR REPLACE FUNCTION count_updated_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
         FROM (SELECT session_id, status, 1 AS delta FROM new_jobs
               UNION ALL
               SELECT session_id, status, -1 FROM old_jobs) changes;
      RETURN NULL;
    END
    $$;
  `);
}
