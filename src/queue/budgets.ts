import type { Knex } from 'knex';
import type { z } from 'zod';
import { fromColumns } from '../models/columns';
import { type Budget, budgetSchema, type setBudgetInput } from '../schemas/budget';
import type { JobTypeSettings, setJobTypeCostInput } from '../schemas/processing-job';
import { jobTypeSettings } from '../services/job-types';
import { InvalidInputError, NotFoundError } from '../services/errors';
import { retryLostRaces } from '../services/lost-races';

/**
 * Quota budgets: a capacity of units per window that the claim spends as it starts jobs of the types that cost
 * units (src/queue/sql/claim_jobs.sql), and never past what is left. A window is a calendar day in a time zone or
 * a rolling window (src/queue/sql/quota_window.sql).
 */

/** The budgets (or the one named) as of `clock`, the server's clock by default: what their window spent and left. */
async function budgetRows(db: Knex, name?: string, clock?: Date): Promise<Budget[]> {
  const { rows } = await db.raw<{ rows: Record<string, unknown>[] }>(
    `SELECT b.name, b.capacity, b.time_zone, b.window_seconds, w.used,
            CASE WHEN b.exhausted_until > c.clock THEN 0 ELSE greatest(0, b.capacity - w.used) END AS "left",
            w.starts_at AS window_starts_at, w.resets_at,
            CASE WHEN b.exhausted_until > c.clock THEN b.exhausted_until END AS exhausted_until, b.updated_at
       FROM (SELECT coalesce(?::timestamptz, now()) AS clock) c
      CROSS JOIN quota_budgets b
      CROSS JOIN LATERAL quota_window(b.name, c.clock) w
      WHERE ?::text IS NULL OR b.name = ?::text
      ORDER BY b.name`,
    [clock ?? null, name ?? null, name ?? null],
  );
  return rows.map((row) => budgetSchema.parse(fromColumns(row)));
}

export const listBudgets = (db: Knex, clock?: Date): Promise<Budget[]> => budgetRows(db, undefined, clock);

/**
 * Creates a budget or sets its capacity and window; claims that start after it commits obey it. A mark of
 * exhaustion is cleared: whoever sets a budget knows what it holds.
 */
export async function setBudget(db: Knex, input: z.output<typeof setBudgetInput>): Promise<Budget> {
  const columns = {
    name: input.name,
    capacity: input.capacity,
    time_zone: input.timeZone ?? null,
    window_seconds: input.windowSeconds ?? null,
    exhausted_until: null,
  };
  await retryLostRaces(() => db('quota_budgets').insert(columns).onConflict('name').merge());
  const [budget] = await budgetRows(db, input.name);
  // Stryker disable next-line all: reached only when the budget is deleted between the write and the read.
  if (!budget) throw new NotFoundError('budget', input.name, 'name');
  return budget;
}

/** Sets what each start of a job type spends, and of which budget (none with `budget: null`). */
export async function setJobTypeCost(
  db: Knex,
  input: z.output<typeof setJobTypeCostInput>,
): Promise<JobTypeSettings> {
  const updated = await retryLostRaces(() =>
    db('job_types')
      .where('name', input.jobType)
      .where((query) => {
        if (input.budget !== null) query.whereExists(db('quota_budgets').where('name', input.budget));
      })
      .update({ budget: input.budget, budget_cost: input.units ?? null }),
  );
  if (updated === 0) throw new InvalidInputError(`budget ${input.budget} does not exist`, 'budget');
  return jobTypeSettings(db, input.jobType);
}
