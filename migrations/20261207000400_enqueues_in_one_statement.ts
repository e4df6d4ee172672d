import type { Knex } from 'knex';

/*
 * An enqueue is one call of `enqueue_jobs`, so one round trip and atomic without a transaction of its own: it was a
 * transaction of four or five statements (begin, insert, read back the active jobs found instead, move the videos,
 * check the entities, commit), 3.2-4.1 ms for one job where a lone insert takes 1.4-1.6. The steps and their lock
 * order are those of every write: jobs in key order, then videos in YouTube id order, then channels.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE FUNCTION enqueue_jobs(jobs jsonb, trace text, video_queues_from video_status[])
    RETURNS TABLE (inserted boolean, job processing_jobs) LANGUAGE plpgsql
    SET plan_cache_mode = force_generic_plan AS $$
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
    $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION enqueue_jobs(jsonb, text, video_status[])');
}
