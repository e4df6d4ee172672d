import type pg from 'pg';
import type { SeedScenario } from './seed-plan';

/** The address the seeded transcript worker fetches from, as its jobs' key names it. */
export const seededEgress = 'egress:203.0.113.7';

/**
 * The queue's flow control as the demo shows it, as of `ref`: the YouTube Data API's daily budget in Los Angeles
 * time, which each discovery spends (channels.list, playlistItems.list and videos.list: 3 units), with what this
 * day's discoveries spent; a start rate on transcript fetches and on the egress address; and one transcript job
 * deferred by a 429, its channel cooling down. Replacing data first empties what a seed set before; the load
 * scenario gets no limit, so a benchmark measures the queue alone.
 */
export async function seedFlowControl(
  client: pg.PoolClient,
  scenario: SeedScenario,
  mode: 'replace' | 'add',
  ref: Date,
): Promise<void> {
  if (mode === 'replace') {
    await client.query('TRUNCATE quota_spends, rate_keys');
    await client.query(
      `UPDATE job_types SET budget = NULL, budget_cost = NULL, max_starts = NULL, per_seconds = NULL,
                            start_tokens = 0, tokens_at = NULL, cooldown_until = NULL`,
    );
    await client.query('DELETE FROM quota_budgets');
  }
  if (scenario === 'load') return;
  await client.query(
    `INSERT INTO quota_budgets (name, capacity, time_zone) VALUES ('youtube-data-api', 10000, 'America/Los_Angeles')
     ON CONFLICT (name) DO NOTHING`,
  );
  await client.query(
    `UPDATE job_types SET budget = 'youtube-data-api', budget_cost = 3 WHERE name = 'channel_discovery';
     UPDATE job_types SET max_starts = 30, per_seconds = 60 WHERE name = 'transcript_extraction'`,
  );
  await client.query(
    `INSERT INTO rate_keys (key, max_starts, per_seconds) VALUES ($1, 10, 60) ON CONFLICT (key) DO NOTHING`,
    [seededEgress],
  );
  // What the day's discoveries spent, under tokens made from their ids so a seed number gives the same rows.
  await client.query(
    `INSERT INTO quota_spends (budget, spent_at, units, job_id, lease_token)
     SELECT 'youtube-data-api', j.started_at, 3, j.id, md5(j.id::text || ':spend')::uuid
       FROM processing_jobs j CROSS JOIN LATERAL quota_window('youtube-data-api', $1) w
      WHERE j.job_type = 'channel_discovery' AND j.status = 'completed'
        AND j.started_at >= w.starts_at AND j.started_at <= $1
      ORDER BY j.id
     ON CONFLICT (lease_token) DO NOTHING`,
    [ref],
  );
  const { rows } = await client.query<{ rate_key: string }>(
    `UPDATE processing_jobs
        SET wait_reason = 'rate_limited', run_after = $1::timestamptz + interval '10 minutes', updated_at = $1,
            wait_detail = '429 Too Many Requests: the transcript endpoint throttles this address'
      WHERE id = (SELECT id FROM processing_jobs
                   WHERE job_type = 'transcript_extraction' AND status = 'queued' AND wait_reason IS NULL
                     AND run_after <= $1
                   ORDER BY id LIMIT 1)
  RETURNING rate_key`,
    [ref],
  );
  for (const { rate_key: key } of rows) {
    await client.query(
      `INSERT INTO rate_keys (key, cooldown_until, rate_limited_in_a_row)
       VALUES ($1, $2::timestamptz + interval '10 minutes', 1)
       ON CONFLICT (key) DO UPDATE SET cooldown_until = excluded.cooldown_until, rate_limited_in_a_row = 1`,
      [key, ref],
    );
  }
}
