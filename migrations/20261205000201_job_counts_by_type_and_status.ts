import type { Knex } from 'knex';

/*
 * How many jobs of each type are in each status, for `/metrics`: a scrape every few seconds cannot count a million
 * rows each time. As with a session's counts, every statement that changes jobs adds rows of deltas, one per
 * (type, status) it changed; inserts of new rows lock nothing another writer waits for. A reader sums the rows and
 * folds them back into one per (type, status) once there are many (a DELETE ... RETURNING hands each row to one
 * folder only). Pruned jobs leave the counts: they count what the table holds.
 *
 * The same deltas count the leases that expired, which only the database sees: the claim that takes over a job
 * whose lease ran out gives it a new lease token while it stays running, and the claim that finds it on its last
 * attempt fails it with the message `claim_jobs` writes. A TRUNCATE of the jobs, which fires no row or statement
 * trigger of DELETE, empties the counts with them.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE processing_job_counts (
      id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      job_type       text NOT NULL,
      status         job_status NOT NULL,
      jobs           bigint NOT NULL,
      lease_expiries bigint NOT NULL
    );

    CREATE FUNCTION count_job_types_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO processing_job_counts (job_type, status, jobs, lease_expiries)
      SELECT job_type, status, count(*), 0 FROM new_jobs GROUP BY job_type, status;
      RETURN NULL;
    END
    $$;

    CREATE FUNCTION count_job_types_updated() RETURNS trigger LANGUAGE plpgsql AS $$
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
    $$;

    CREATE FUNCTION count_job_types_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO processing_job_counts (job_type, status, jobs, lease_expiries)
      SELECT job_type, status, -count(*), 0 FROM old_jobs GROUP BY job_type, status;
      RETURN NULL;
    END
    $$;

    CREATE FUNCTION clear_job_type_counts() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM processing_job_counts;
      RETURN NULL;
    END
    $$;

    CREATE TRIGGER processing_jobs_count_types_inserted AFTER INSERT ON processing_jobs
      REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_job_types_inserted();
    CREATE TRIGGER processing_jobs_count_types_updated AFTER UPDATE ON processing_jobs
      REFERENCING OLD TABLE AS old_jobs NEW TABLE AS new_jobs
      FOR EACH STATEMENT EXECUTE FUNCTION count_job_types_updated();
    CREATE TRIGGER processing_jobs_count_types_deleted AFTER DELETE ON processing_jobs
      REFERENCING OLD TABLE AS old_jobs FOR EACH STATEMENT EXECUTE FUNCTION count_job_types_deleted();
    CREATE TRIGGER processing_jobs_count_types_truncated AFTER TRUNCATE ON processing_jobs
      FOR EACH STATEMENT EXECUTE FUNCTION clear_job_type_counts();

    -- The jobs there are already, counted while the triggers' lock keeps writers out until this commits.
    INSERT INTO processing_job_counts (job_type, status, jobs, lease_expiries)
    SELECT job_type, status, count(*), 0 FROM processing_jobs GROUP BY job_type, status;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER processing_jobs_count_types_truncated ON processing_jobs;
    DROP TRIGGER processing_jobs_count_types_deleted ON processing_jobs;
    DROP TRIGGER processing_jobs_count_types_updated ON processing_jobs;
    DROP TRIGGER processing_jobs_count_types_inserted ON processing_jobs;
    DROP FUNCTION clear_job_type_counts();
    DROP FUNCTION count_job_types_deleted();
    DROP FUNCTION count_job_types_updated();
    DROP FUNCTION count_job_types_inserted();
    DROP TABLE processing_job_counts;
  `);
}
