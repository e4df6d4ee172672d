import type { ClaimedJob, Deferral, JobRow, Outcome } from './types';

/** A job's error as `jobs.fail` stores it: text PostgreSQL can hold, within the schema's length. */
export const storedMessage = (error: Error) =>
  (error.message.replaceAll('\0', '') || error.name).slice(0, 10_000);

/** A snooze's reason as `jobs.snooze` takes and stores it: trimmed, within its length, left out if empty. */
export const snoozeReason = (reason: string | undefined) =>
  reason?.replaceAll('\0', '').trim().slice(0, 1_000).trim() || undefined;

/** Why a job the outcome defers waits, or nothing for an outcome that does not defer it. */
export const deferralOf = (outcome: Outcome): Deferral | undefined => {
  if (outcome.kind === 'snooze') return 'snoozed';
  if (
    // Stryker disable next-line ConditionalExpression: narrows the type; no other outcome has a failure kind.
    outcome.kind === 'fail' &&
    (outcome.failure === 'rate_limited' || outcome.failure === 'quota_exhausted')
  ) {
    return outcome.failure;
  }
  return undefined;
};

/**
 * Whether the job, as read now, shows `workerId`'s own outcome recorded: what tells a rejection that responds to the
 * worker's own earlier call, which reached the API before its response was lost, from a lease truly lost.
 */
export function outcomeRecorded(job: ClaimedJob, outcome: Outcome, row: JobRow, workerId: string): boolean {
  if (outcome.kind === 'release') return row.status === 'queued' && row.attempts === job.attempts - 1;
  // A deferral gives the attempt back and shows why the job waits, with what the worker said.
  const deferredAs = (detail: string | null) =>
    row.status === 'queued' &&
    row.attempts === job.attempts - 1 &&
    row.waitReason === deferralOf(outcome) &&
    row.waitDetail === detail;
  if (outcome.kind === 'snooze') return deferredAs(snoozeReason(outcome.reason) ?? null);
  // Stryker disable next-line ConditionalExpression: narrows the type; only failures and snoozes defer a job.
  if (outcome.kind === 'fail' && deferralOf(outcome)) return deferredAs(storedMessage(outcome.error));
  if (row.attempts !== job.attempts || row.lockedBy !== workerId) return false;
  if (outcome.kind === 'complete') return row.status === 'completed';
  return (
    (row.status === 'queued' || row.status === 'failed') && row.errorMessage === storedMessage(outcome.error)
  );
}
