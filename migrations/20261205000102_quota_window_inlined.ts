import type { Knex } from 'knex';

/*
 * `quota_window` returns a table (of one row), so PostgreSQL inlines it into the statement that calls it: the
 * claim's plan, cached for the session, then holds the budget's window and its ledger scan instead of planning a
 * function call on every claim (about a millisecond each). A budget that does not exist gives no row.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION quota_window(text, timestamptz);
    CREATE FUNCTION quota_window(budget_name text, clock timestamptz)
    RETURNS TABLE (starts_at timestamptz, resets_at timestamptz, used bigint)
    LANGUAGE sql STABLE AS $$
      -- A calendar day starts at local midnight, whatever the day's length; a rolling window counts the spends of
      -- its last window_seconds, and gives units back as its oldest spend leaves it.
      SELECT w.starts_at,
             CASE WHEN b.time_zone IS NOT NULL
                  THEN (date_trunc('day', clock AT TIME ZONE b.time_zone) + interval '1 day') AT TIME ZONE b.time_zone
                  ELSE (SELECT min(s.spent_at) FROM quota_spends s
                         WHERE s.budget = b.name AND s.spent_at > w.starts_at AND s.units > 0)
                       + make_interval(secs => b.window_seconds) END,
             (SELECT coalesce(sum(s.units), 0) FROM quota_spends s
               WHERE s.budget = b.name AND s.spent_at >= w.starts_at
                 AND (b.time_zone IS NOT NULL OR s.spent_at > w.starts_at))::bigint
        FROM quota_budgets b
       CROSS JOIN LATERAL (
         SELECT CASE WHEN b.time_zone IS NOT NULL
                     THEN date_trunc('day', clock AT TIME ZONE b.time_zone) AT TIME ZONE b.time_zone
                     ELSE clock - make_interval(secs => b.window_seconds) END AS starts_at) w
       WHERE b.name = budget_name
    $$;
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP FUNCTION quota_window(text, timestamptz);
    CREATE FUNCTION quota_window(budget_name text, clock timestamptz,
                                 OUT starts_at timestamptz, OUT resets_at timestamptz, OUT used bigint)
    LANGUAGE sql STABLE AS $$
      -- A calendar day starts at local midnight, whatever the day's length; a rolling window counts the spends of
      -- its last window_seconds, and gives units back as its oldest spend leaves it.
      SELECT w.starts_at,
             CASE WHEN b.time_zone IS NOT NULL
                  THEN (date_trunc('day', clock AT TIME ZONE b.time_zone) + interval '1 day') AT TIME ZONE b.time_zone
                  ELSE (SELECT min(s.spent_at) FROM quota_spends s
                         WHERE s.budget = b.name AND s.spent_at > w.starts_at AND s.units > 0)
                       + make_interval(secs => b.window_seconds) END,
             (SELECT coalesce(sum(s.units), 0) FROM quota_spends s
               WHERE s.budget = b.name AND s.spent_at >= w.starts_at
                 AND (b.time_zone IS NOT NULL OR s.spent_at > w.starts_at))::bigint
        FROM quota_budgets b
       CROSS JOIN LATERAL (
         SELECT CASE WHEN b.time_zone IS NOT NULL
                     THEN date_trunc('day', clock AT TIME ZONE b.time_zone) AT TIME ZONE b.time_zone
                     ELSE clock - make_interval(secs => b.window_seconds) END AS starts_at) w
       WHERE b.name = budget_name
    $$;
  `);
}
