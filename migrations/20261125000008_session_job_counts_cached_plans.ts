import type { Knex } from 'knex';

/*
 * The session counters' functions, made cheap for the queue's hot path. A LANGUAGE sql function that writes is
 * planned again on every call, and the trigger called it on every statement, with or without session jobs: about
 * a quarter of a claim's execution time. In PL/pgSQL the INSERT's plan is cached for the connection, and a
 * statement that touched no job of a session returns before building any arrays.
 */

/** The statement that adds one statement's changes to the counts, as migration 20261125000007 wrote it. */
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

const addCountsFunction = (body: string) => `
  CREATE OR REPLACE FUNCTION add_session_job_counts(session_ids uuid[], statuses job_status[], deltas integer[])
  RETURNS void ${body};`;

/** The changes each trigger passes on, and the transition tables that hold them. */
const triggers = [
  {
    name: 'count_inserted_jobs',
    tables: ['new_jobs'],
    changes: 'SELECT session_id, status, 1 AS delta FROM new_jobs',
  },
  {
    name: 'count_deleted_jobs',
    tables: ['old_jobs'],
    changes: 'SELECT session_id, status, -1 AS delta FROM old_jobs',
  },
  {
    name: 'count_updated_jobs',
    tables: ['new_jobs', 'old_jobs'],
    changes: `SELECT session_id, status, 1 AS delta FROM new_jobs
              UNION ALL
              SELECT session_id, status, -1 FROM old_jobs`,
  },
];

function triggerFunctions(skipWithoutSessions: boolean): string {
  return triggers
    .map(({ name, tables, changes }) => {
      const count = `PERFORM add_session_job_counts(array_agg(session_id), array_agg(status), array_agg(delta))
                       FROM (${changes}) changes;`;
      const guard = tables.map((table) => `EXISTS (SELECT 1 FROM ${table} WHERE session_id IS NOT NULL)`);
      const body = skipWithoutSessions ? `IF ${guard.join(' OR ')} THEN ${count} END IF;` : count;
      return `CREATE OR REPLACE FUNCTION ${name}() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN ${body} RETURN NULL; END $$;`;
    })
    .join('\n');
}

export async function up(knex: Knex): Promise<void> {
  await knex.raw(addCountsFunction(`LANGUAGE plpgsql AS $$ BEGIN ${addSessionJobCounts}; END $$`));
  await knex.raw(triggerFunctions(true));
}

/** Back to the functions of migration 20261125000007, which these replace. */
export async function down(knex: Knex): Promise<void> {
  await knex.raw(addCountsFunction(`LANGUAGE sql AS $$ ${addSessionJobCounts} $$`));
  await knex.raw(triggerFunctions(false));
}
