import type { Knex } from 'knex';
import { processingJobFactory } from '../../dev/factories';
import { claimJobsInput, type ClaimedJob, type JobType } from '../../src/schemas/processing-job';
import { claimJobs } from '../../src/queue/job-queue';

/**
 * Claims take any runnable job of the database, and budgets, rates and keys are shared by every job: a test of
 * them starts from an empty queue with no budget, no key and no limit on any type.
 */
export async function resetFlowControl(db: Knex): Promise<void> {
  await db('processing_jobs').delete();
  await db('rate_keys').delete();
  await db('job_types').update({
    max_running: null,
    budget: null,
    budget_cost: null,
    max_starts: null,
    per_seconds: null,
    start_tokens: 0,
    tokens_at: null,
    cooldown_until: null,
  });
  await db('quota_budgets').delete();
}

/** A moment, written with its offset as a person reads a wall clock there. */
export const at = (text: string): Date => new Date(text);

/** Seconds after a moment. */
export const after = (moment: Date, seconds: number): Date => new Date(moment.getTime() + seconds * 1_000);

/**
 * Queued discovery jobs (about new channels), due long before any clock the tests hand the claim, so only the
 * rule under test holds them back.
 */
export const queuedDiscoveries = (count: number, overrides: { priority?: number; rateKey?: string } = {}) =>
  processingJobFactory
    .trait('discovery')
    .createList(count, { runAfter: at('2026-01-01T00:00:00Z'), priority: 0, ...overrides });

/** Claims as one worker would, at `clock` (the server's clock without one). */
export const claimAt = (
  db: Knex,
  clock: Date | undefined,
  limit = 10,
  jobTypes?: JobType[],
): Promise<ClaimedJob[]> =>
  claimJobs(
    db,
    claimJobsInput.parse({ workerId: 'w', limit, leaseSeconds: 60, ...(jobTypes ? { jobTypes } : {}) }),
    undefined,
    undefined,
    clock,
  );
