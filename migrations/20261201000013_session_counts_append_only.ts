import type { Knex } from 'knex';

/*
 * A session's counts become append-only: each statement that changes a session's jobs adds rows of deltas
 * instead of updating one of 16 shard rows. Shared shard rows were locks every writer of a session took after
 * its jobs, and two connections whose process ids fell on the same shard could deadlock with the videos they
 * locked in between (an enqueue locks counts then videos, a completion videos then counts). Inserts of new rows
 * lock nothing another writer waits for. Reads sum a session's rows; `sessions.progress` folds them back into
 * one row per status once a session has many (a DELETE ... RETURNING hands each row to one folder only, so
 * concurrent folds and writes lose nothing).
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE processing_session_job_deltas (
      id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      session_id uuid NOT NULL REFERENCES processing_sessions (id) ON DELETE CASCADE,
      status     job_status NOT NULL,
      jobs       bigint NOT NULL
    );
    CREATE INDEX processing_session_job_deltas_session_id_idx
      ON processing_session_job_deltas (session_id) INCLUDE (status, jobs);

    INSERT INTO processing_session_job_deltas (session_id, status, jobs)
    SELECT session_id, status, sum(jobs) FROM processing_session_job_counts GROUP BY 1, 2 HAVING sum(jobs) <> 0;
    DROP TABLE processing_session_job_counts;
    ALTER TABLE processing_session_job_deltas RENAME TO processing_session_job_counts;
    ALTER INDEX processing_session_job_deltas_session_id_idx RENAME TO processing_session_job_counts_session_id_idx;
    ALTER TABLE processing_session_job_counts RENAME CONSTRAINT processing_session_job_deltas_pkey
      TO processing_session_job_counts_pkey;
    ALTER TABLE processing_session_job_counts RENAME CONSTRAINT processing_session_job_deltas_session_id_fkey
      TO processing_session_job_counts_session_id_fkey;

    CREATE OR REPLACE FUNCTION add_session_job_counts(session_ids uuid[], statuses job_status[], deltas integer[])
    RETURNS void LANGUAGE plpgsql AS $$
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
    $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE processing_session_job_shards (
      session_id uuid NOT NULL REFERENCES processing_sessions (id) ON DELETE CASCADE,
      status     job_status NOT NULL,
      shard      smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
      jobs       bigint NOT NULL,
      PRIMARY KEY (session_id, status, shard)
    );
    INSERT INTO processing_session_job_shards (session_id, status, shard, jobs)
    SELECT session_id, status, 0, sum(jobs) FROM processing_session_job_counts GROUP BY 1, 2;
    DROP TABLE processing_session_job_counts;
    ALTER TABLE processing_session_job_shards RENAME TO processing_session_job_counts;
    ALTER TABLE processing_session_job_counts RENAME CONSTRAINT processing_session_job_shards_pkey
      TO processing_session_job_counts_pkey;
    ALTER TABLE processing_session_job_counts RENAME CONSTRAINT processing_session_job_shards_session_id_fkey
      TO processing_session_job_counts_session_id_fkey;
    ALTER TABLE processing_session_job_counts RENAME CONSTRAINT processing_session_job_shards_shard_check
      TO processing_session_job_counts_shard_check;

    CREATE OR REPLACE FUNCTION add_session_job_counts(session_ids uuid[], statuses job_status[], deltas integer[])
    RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      completed record;
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
    $$;
  `);
}
