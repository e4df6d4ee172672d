import type { Knex } from 'knex';
import type { z } from 'zod';
import type { FailureKind, failJobInput } from '../schemas/processing-job';
import { InvalidInputError } from '../services/errors';

/**
 * What a failure reported by a job's worker does, by its kind (`failureKinds`): to the job, and to what the job
 * shares with the others (its key, its type, its budget). A deferral (rate limited, quota exhausted) gives the
 * attempt back and records no failure: the job shows why it waits (`waitReason`, `waitDetail`) and until when
 * (`runAfter`). Runs inside the failure's transaction, after the job's row is locked and before its video's,
 * so it takes key, type and budget rows between the two, as the claim does.
 */

/** Retry delays double per attempt; jitter stays within ±20% so each delay still exceeds the one before. */
export const retryBaseSeconds = 10;
export const retryMaxSeconds = 3_600;

export function retryDelaySeconds(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(retryBaseSeconds * 2 ** (attempt - 1), retryMaxSeconds);
  return base * (0.8 + 0.4 * random());
}

/** How long a rate limit lasts when the worker does not say (no `Retry-After` in YouTube's response). */
export const defaultRetryAfterSeconds = 60;

/** The locked job a failure is reported for. */
export interface FailingJob {
  attempts: number;
  max_attempts: number;
  job_type: string;
  rate_key: string;
}

export interface FailureOutcome {
  /** The job's columns as the failure leaves them (its lease is voided by the caller). */
  columns: Record<string, unknown>;
  /** Whether it counts as a failure of the job's video (its retries and error), or only defers it. */
  failure: boolean;
}

type FailInput = z.output<typeof failJobInput>;

/** `clock` as SQL: the time rules read it, the server's clock when none is handed (as the claim does). */
const clockOf = (trx: Knex.Transaction, clock: Date | undefined) =>
  trx.raw('coalesce(?::timestamptz, now())', [clock ?? null]);

/**
 * A rate limit on the job's key: the key cools down for `seconds` and counts one more rate limit in a row; the
 * run opens its breaker at the key's threshold, and a rate-limited probe opens it again. Returns when the key's
 * jobs may start again.
 */
async function coolKeyDown(
  trx: Knex.Transaction,
  key: string,
  seconds: number,
  clock: Date | undefined,
): Promise<Date> {
  await trx('rate_keys').insert({ key }).onConflict('key').ignore();
  const opens = `breaker = 'half_open' OR (breaker = 'closed' AND rate_limited_in_a_row + 1 >= breaker_threshold)`;
  const { rows } = await trx.raw<{ rows: { until: Date }[] }>(
    `UPDATE rate_keys
        SET cooldown_until = greatest(cooldown_until, c.clock + make_interval(secs => ?)),
            rate_limited_in_a_row = rate_limited_in_a_row + 1,
            breaker = CASE WHEN ${opens} THEN 'open' ELSE breaker END,
            breaker_until = CASE WHEN ${opens} THEN c.clock + make_interval(secs => breaker_cooldown_seconds)
                                 ELSE breaker_until END
       FROM (SELECT ?::timestamptz AS clock) c
      WHERE key = ?
  RETURNING greatest(cooldown_until, CASE WHEN breaker = 'open' THEN breaker_until END) AS until`,
    [seconds, clockOf(trx, clock), key],
  );
  return rows[0]!.until;
}

/** A rate limit on the whole type: none of its jobs starts for `seconds`. Returns when they may again. */
async function coolTypeDown(
  trx: Knex.Transaction,
  jobType: string,
  seconds: number,
  clock: Date | undefined,
): Promise<Date> {
  const [row] = await trx('job_types')
    .where('name', jobType)
    .update({
      cooldown_until: trx.raw('greatest(cooldown_until, ? + make_interval(secs => ?))', [
        clockOf(trx, clock),
        seconds,
      ]),
    })
    .returning<{ cooldown_until: Date }[]>('cooldown_until');
  return row!.cooldown_until;
}

/**
 * The job type's budget is spent, whatever the ledger says (another client of the same project spent it, say):
 * no claim spends it until its reset. Returns the reset.
 */
async function markBudgetSpent(
  trx: Knex.Transaction,
  jobType: string,
  clock: Date | undefined,
): Promise<Date> {
  const { rows } = await trx.raw<{ rows: { until: Date }[] }>(
    `UPDATE quota_budgets b
        SET exhausted_until = coalesce(w.resets_at, c.clock + make_interval(secs => b.window_seconds))
       FROM (SELECT ?::timestamptz AS clock) c, job_types t
      CROSS JOIN LATERAL quota_window(t.budget, ?) w
      WHERE t.name = ? AND b.name = t.budget
  RETURNING b.exhausted_until AS until`,
    [clockOf(trx, clock), clockOf(trx, clock), jobType],
  );
  if (!rows[0]) {
    throw new InvalidInputError(
      `a ${jobType} job spends no budget, so it cannot exhaust one; report a rate limit or an error`,
      'kind',
    );
  }
  return rows[0].until;
}

/** Queued again at `until` without spending the attempt, with the reason it waits. */
const deferred = (
  trx: Knex.Transaction,
  reason: 'rate_limited' | 'quota_exhausted',
  detail: string,
  until: Date,
): FailureOutcome => ({
  columns: {
    status: 'queued',
    attempts: trx.raw('attempts - 1'),
    run_after: until,
    wait_reason: reason,
    wait_detail: detail,
    locked_by: null,
    locked_at: null,
  },
  failure: false,
});

/** Applies the failure's policy to what the job shares, and returns what becomes of the job. */
export async function applyFailurePolicy(
  trx: Knex.Transaction,
  job: FailingJob,
  input: FailInput,
  clock?: Date,
): Promise<FailureOutcome> {
  // Stryker disable next-line StringLiteral: a kind that is none of the named ones is handled as an error.
  const kind: FailureKind = input.kind ?? 'error';
  // What the worker says it spent replaces what its claim counted, whatever becomes of the job.
  if (input.unitsSpent !== undefined) {
    await trx('quota_spends').where('lease_token', input.leaseToken).update({ units: input.unitsSpent });
  }
  if (kind === 'rate_limited') {
    const seconds = input.retryAfterSeconds ?? defaultRetryAfterSeconds;
    const until =
      input.scope === 'type'
        ? await coolTypeDown(trx, job.job_type, seconds, clock)
        : await coolKeyDown(trx, job.rate_key, seconds, clock);
    return deferred(trx, 'rate_limited', input.error, until);
  }
  if (kind === 'quota_exhausted') {
    return deferred(trx, 'quota_exhausted', input.error, await markBudgetSpent(trx, job.job_type, clock));
  }
  const final = kind === 'permanent' || !input.retryable || job.attempts >= job.max_attempts;
  return {
    columns: {
      status: final ? 'failed' : 'queued',
      error_message: input.error,
      run_after: final
        ? trx.raw('run_after')
        : trx.raw('? + make_interval(secs => ?)', [clockOf(trx, clock), retryDelaySeconds(job.attempts)]),
      completed_at: final ? trx.fn.now() : null,
      wait_reason: final ? null : 'retry',
      wait_detail: null,
    },
    failure: true,
  };
}
