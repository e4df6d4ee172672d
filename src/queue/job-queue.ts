import { SpanKind } from '@opentelemetry/api';
import type { Knex } from 'knex';
import type { z } from 'zod';
import { toColumns } from '../models/columns';
import { toClaimedJob, toJob } from './job-rows';
import type { JobWakeups } from './wakeups';
import { reportToObservers } from './events';
import { applyFailurePolicy } from './failure-policies';
import { inSpan, traceparentOf } from './tracing';
import {
  type ClaimedJob,
  type ClaimJobsInput,
  claimJobsInput,
  type CompleteJobsResult,
  type completeJobInput,
  type completeJobsInput,
  type EnqueueJob,
  type failJobInput,
  type heartbeatInput,
  type ProcessingJob,
  type releaseJobInput,
  type requeueJobInput,
  type snoozeJobInput,
  videoStatusForJob,
} from '../schemas/processing-job';
import { videoStatusFrom } from '../schemas/video';
import { moveVideosWithJobs } from '../services/video-follows-job';
import { ConflictError, NotFoundError } from '../services/errors';
import { retryLostRaces } from '../services/lost-races';

/**
 * The PostgreSQL work queue. Every state change is one conditional UPDATE (`WHERE <expected state>`), so two
 * callers can never both win; claims take rows with FOR UPDATE SKIP LOCKED. A claim issues a fresh lease token
 * and only that token may heartbeat, complete or fail the job: a worker whose lease expired and whose job was
 * claimed again is rejected, so a result is never recorded twice. The token leaves the server only in the
 * claim's response: every other one shows that a job is leased, never the token. Videos, channels and sessions
 * follow their jobs in the same statement or transaction.
 */

export { retryBaseSeconds, retryDelaySeconds, retryMaxSeconds } from './failure-policies';

/** A job's (type, entity) as one string; PostgreSQL writes a uuid in lower case, whatever case it was given in. */
const activeKey = (job: { jobType: string; entityType: string; entityId: string }) =>
  `${job.jobType}/${job.entityType}/${job.entityId.toLowerCase()}`;

/**
 * Enqueues jobs; for a (type, entity) that already has a queued or running job, returns that job instead of
 * adding a second.
 */
export async function enqueueJobs(db: Knex, jobs: EnqueueJob[]): Promise<ProcessingJob[]> {
  // The enqueue's span context goes on each new job, for the span of the handler that runs it to link to.
  return inSpan(
    'enqueue jobs',
    { kind: SpanKind.PRODUCER, attributes: { 'tubesensei.job.count': jobs.length } },
    (span) => enqueueTraced(db, jobs, traceparentOf(span)),
  );
}

/**
 * The writes of an enqueue, in one call (src/queue/sql/enqueue_jobs.sql), so atomic on its own or in the caller's
 * transaction: insert each key's job unless the key has an active one, which stays locked until the transaction
 * ends; queue the new jobs' videos; check that what the jobs are about exists, and hold it. Returns the new jobs,
 * and the active ones of every key given.
 */
async function insertJobs(
  db: Knex,
  jobs: EnqueueJob[],
  traceparent: string | null,
): Promise<{ inserted: Record<string, unknown>[]; byKey: Map<string, Record<string, unknown>> }> {
  const { rows } = await db.raw<{ rows: ({ inserted: boolean } & Record<string, unknown>)[] }>(
    'SELECT e.inserted, (e.job).* FROM enqueue_jobs(?::jsonb, ?, ?::video_status[]) e',
    [
      JSON.stringify(jobs.map((job) => toColumns(job))),
      traceparent,
      [...videoStatusFrom[videoStatusForJob.queued]],
    ],
  );
  const active = rows.map(({ inserted, ...row }) => ({ inserted, row }));
  const byKey = new Map(
    active.map(({ row }) => [
      activeKey({
        jobType: row.job_type as string,
        entityType: row.entity_type as string,
        entityId: row.entity_id as string,
      }),
      row,
    ]),
  );
  return { inserted: active.filter((job) => job.inserted).map(({ row }) => row), byKey };
}

async function enqueueTraced(
  db: Knex,
  jobs: EnqueueJob[],
  traceparent: string | null,
): Promise<ProcessingJob[]> {
  const write = () => insertJobs(db, jobs, traceparent);
  // A race lost inside a caller's transaction aborts it, and only the caller can run that again.
  const { inserted, byKey } = await (db.isTransaction ? write() : retryLostRaces(write));
  // Every key given has its active job among the rows: the call locked it until it returned.
  const enqueued = jobs.map((job) => toJob(byKey.get(activeKey(job))!));
  reportToObservers(db, 'enqueued', inserted.map(toJob));
  return enqueued;
}

/**
 * Hands out up to `limit` runnable jobs: queued ones whose start time has come (by priority, then round, then age:
 * one job of each key before a second of any) and running ones whose lease expired, leaving out jobs their paused
 * session holds, types at their running limit, and whatever a start rate, a cool-down, a breaker or a budget
 * holds back. Each gets one more attempt, the worker's id, a lease and a new lease token. A job whose lease
 * expired on its last attempt is failed instead. `clock` stands for now in every time rule (src/queue/sql/).
 */
async function claimOnce(db: Knex, input: ClaimJobsInput, clock: Date | undefined): Promise<ClaimedJob[]> {
  // One call, so one round trip and atomic without a transaction (src/queue/sql/claim_jobs.sql). In order: fail
  // leases that expired on their last attempt (and their videos); lock the limited types' and their budgets' rows
  // and work out each type's room; lock the best candidates per type, past the keys that may not start (SKIP
  // LOCKED); lock their keys' rows; keep the best `limit` within the rooms of their types, keys and budgets;
  // lease them, record what they spend, take their tokens, and move their videos to `processing`.
  const claimed = await retryLostRaces(() =>
    db.raw(
      'SELECT * FROM claim_jobs(?, ?::text[], ?, ?, ?::video_status[], ?::video_status[], ?::timestamptz)',
      [
        input.workerId,
        input.jobTypes ?? null,
        input.limit,
        input.leaseSeconds,
        [...videoStatusFrom[videoStatusForJob.running]],
        [...videoStatusFrom[videoStatusForJob.failed]],
        clock ?? null,
      ],
    ),
  );
  const jobs = (claimed.rows as Record<string, unknown>[])
    .map(toClaimedJob)
    .sort((a, b) => b.priority - a.priority || a.createdAt.getTime() - b.createdAt.getTime());
  if (jobs.length > 0) reportToObservers(db, 'claimed', jobs);
  return jobs;
}

/** A waiting claim looks again at least this often when something is due that it could not take. */
const recheckMs = 1_000;

/**
 * When the next job becomes claimable by time alone (a retry's `run_after`, a lease's end), from one index probe
 * per partial index; null when nothing is scheduled.
 */
async function nextClaimableAt(db: Knex, jobTypes: ClaimJobsInput['jobTypes']): Promise<number | null> {
  const types = jobTypes ?? null;
  const { rows } = await db.raw<{ rows: { next: Date | null }[] }>(
    `SELECT least(
         (SELECT min(run_after) FROM processing_jobs
           WHERE status = 'queued' AND NOT held AND (?::text[] IS NULL OR job_type = ANY(?::text[]))),
         (SELECT min(lease_expires_at) FROM processing_jobs
           WHERE status = 'running' AND attempts < max_attempts AND NOT held),
         (SELECT min(lease_expires_at) FROM processing_jobs WHERE status = 'running' AND attempts >= max_attempts)
       ) AS next`,
    [types, types],
  );
  return rows[0]?.next ? rows[0].next.getTime() : null;
}

/**
 * Claims jobs; with `waitMs`, an empty claim waits for work instead of returning at once. It runs again when a
 * job is made claimable (a notification from any API process, see `JobWakeups`), when the next job is due or a
 * lease runs out, and returns empty at the end of the wait or when the caller goes away (`signal`). `signal` is one
 * request's: once it aborts, what the claim returned is released, as its response was never written.
 */
export async function claimJobs(
  db: Knex,
  input: z.output<typeof claimJobsInput>,
  wakeups?: JobWakeups,
  signal?: AbortSignal,
  clock?: Date,
): Promise<ClaimedJob[]> {
  const deadline = Date.now() + input.waitMs;
  for (;;) {
    const seen = wakeups?.seen() ?? 0;
    const claimed = await claimOnce(db, input, clock);
    if (claimed.length > 0) {
      // A caller that went away while its claim ran, or goes away before its response is written (the signal does
      // not abort once it is), never runs these: back to the queue, no attempt spent.
      if (signal?.aborted) return handBack(db, claimed);
      signal?.addEventListener('abort', () => void handBack(db, claimed), { once: true });
      return claimed;
    }
    if (!wakeups || Date.now() >= deadline) return claimed;
    const next = await nextClaimableAt(db, input.jobTypes);
    const until = Math.min(deadline, Math.max(next ?? Number.POSITIVE_INFINITY, Date.now() + recheckMs));
    await wakeups.waitAfter(seen, until, signal);
    // A caller that went away gets nothing leased to it; a server that is stopping ends its waits.
    if (signal?.aborted || wakeups.closed) return [];
  }
}

/**
 * Releases jobs one at a time, each in a transaction of its own, so they need no lock order. One that cannot be
 * (cancelled meanwhile, or the database out of reach) is left to its lease, and the others are still released.
 */
async function handBack(db: Knex, jobs: ClaimedJob[]): Promise<[]> {
  for (const job of jobs)
    await releaseJob(db, { id: job.id, leaseToken: job.leaseToken }).catch(() => undefined);
  return [];
}

/** Why a lease-guarded update matched nothing, from the job's status now. */
const rejection = (status: string) =>
  status === 'running' ? 'the lease is no longer yours: the job was claimed again' : `the job is ${status}`;

/** A job's status now, for saying why a write that expected another one matched nothing. */
async function currentStatus(db: Knex, id: string): Promise<string> {
  const job = await db('processing_jobs').where({ id }).first<{ status: string } | undefined>('status');
  if (!job) throw new NotFoundError('job', id);
  return job.status;
}

async function leaseRejected(db: Knex, id: string): Promise<never> {
  throw new ConflictError(rejection(await currentStatus(db, id)), 'leaseToken');
}

export async function heartbeat(db: Knex, input: z.output<typeof heartbeatInput>): Promise<ProcessingJob> {
  const [row] = await retryLostRaces(() =>
    db('processing_jobs')
      .where({ id: input.id, status: 'running', lease_token: input.leaseToken })
      .update({ lease_expires_at: db.raw('now() + make_interval(secs => ?)', [input.leaseSeconds]) })
      .returning('*'),
  );
  return row ? toJob(row) : leaseRejected(db, input.id);
}

/** Completes the jobs whose lease the caller holds, in one statement; returns them by id. */
async function completeLeased(
  db: Knex,
  given: z.output<typeof completeJobsInput>['jobs'],
): Promise<Map<string, ProcessingJob>> {
  const jobs = [...given].sort((a, b) => (a.id < b.id ? -1 : 1));
  // One statement (src/queue/sql/complete_jobs.sql): complete each job whose lease is the caller's, record the
  // units it reports, close its key's breaker, then move their videos to `completed`, stamp their channels' last
  // check, and count them on their sessions.
  const complete = (conn: Knex) =>
    conn.raw(
      'SELECT * FROM complete_jobs(?::uuid[], ?::uuid[], ?::jsonb[], ?::integer[], ?::video_status[])',
      [
        jobs.map((job) => job.id),
        jobs.map((job) => job.leaseToken),
        // knex's binding types leave out null array items, which pg sends as NULL: no result, no units reported.
        jobs.map((job) => (job.result === undefined ? null : JSON.stringify(job.result))) as string[],
        jobs.map((job) => job.unitsSpent ?? null) as number[],
        [...videoStatusFrom[videoStatusForJob.completed]],
      ],
    );
  const followed = jobs.some((job) => (job.followUps?.length ?? 0) > 0);
  const { rows, followUps } = await retryLostRaces(async () => {
    if (!followed) return { rows: (await complete(db)).rows as Record<string, unknown>[], followUps: [] };
    // The follow-ups of the jobs completed, in the same transaction: none when the completion is rejected.
    return db.transaction(async (trx) => {
      const completed = (await complete(trx)).rows as Record<string, unknown>[];
      const ids = new Set(completed.map((row) => row.id));
      const following = jobs.flatMap((job) => (ids.has(job.id) ? (job.followUps ?? []) : []));
      const { inserted } = following.length > 0 ? await insertJobs(trx, following, null) : { inserted: [] };
      return { rows: completed, followUps: inserted };
    });
  });
  if (followUps.length > 0) reportToObservers(db, 'enqueued', followUps.map(toJob));
  const done = rows.map(toJob);
  if (done.length > 0) reportToObservers(db, 'completed', done);
  return new Map(done.map((job) => [job.id, job]));
}

/**
 * Records the result once; the video or channel the job was about, and the session's count, follow in the same
 * statement.
 */
export async function completeJob(
  db: Knex,
  input: z.output<typeof completeJobInput>,
): Promise<ProcessingJob> {
  const completed = await completeLeased(db, [input]);
  return completed.get(input.id) ?? leaseRejected(db, input.id);
}

/**
 * Completes a worker's claimed jobs in one round trip. A job whose lease is no longer the caller's is left as it
 * is and listed under `rejected`, with the reason `completeJob` would give; the others complete regardless.
 */
export async function completeJobs(
  db: Knex,
  input: z.output<typeof completeJobsInput>,
): Promise<CompleteJobsResult> {
  const completed = await completeLeased(db, input.jobs);
  const missed = input.jobs.filter((job) => !completed.has(job.id)).map((job) => job.id);
  const current =
    // Stryker disable next-line ConditionalExpression: a saved query; no missed ids, no rows to read.
    missed.length === 0
      ? // Stryker disable next-line ArrayDeclaration: the same saved query.
        []
      : await db('processing_jobs')
          .whereIn('id', missed)
          .select<{ id: string; status: string }[]>('id', 'status');
  const statusOf = new Map(current.map((row) => [row.id, row.status]));
  return {
    completed: input.jobs.flatMap((job) => {
      const done = completed.get(job.id);
      return done ? [{ id: done.id, completedAt: done.completedAt }] : [];
    }),
    rejected: missed.map((id) => {
      const status = statusOf.get(id);
      return { id, reason: status ? rejection(status) : new NotFoundError('job', id).message };
    }),
  };
}

/**
 * Records a failure by its kind (src/queue/failure-policies.ts): an error is retried later with exponential
 * backoff while attempts remain and failed for good after, a permanent one at once; a rate limit or a spent budget
 * defers the job without spending its attempt. `clock` stands for now in the policies' time rules.
 */
export async function failJob(
  db: Knex,
  input: z.output<typeof failJobInput>,
  clock?: Date,
): Promise<ProcessingJob> {
  const outcome = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      const [job] = await trx('processing_jobs')
        .where({ id: input.id, status: 'running', lease_token: input.leaseToken })
        .forUpdate()
        .select('attempts', 'max_attempts', 'entity_type', 'entity_id', 'job_type', 'rate_key');
      if (!job) return undefined;
      const { columns, failure } = await applyFailurePolicy(trx, job, input, clock);
      const [failed] = await trx('processing_jobs')
        .where({ id: input.id })
        .update({ ...columns, lease_token: null, lease_expires_at: null })
        .returning('*');
      // Its status as written: a retry in a session finished meanwhile is cancelled (src/queue/sql/follow_job_session.sql).
      if (job.entity_type === 'video') {
        await moveVideosWithJobs(
          trx,
          [job.entity_id],
          failed.status,
          failure
            ? {
                retry_count: trx.raw('retry_count + 1'),
                ...(failed.status === 'failed' ? { error_message: input.error } : {}),
              }
            : {},
        );
      }
      return { row: failed as Record<string, unknown>, failure };
    }),
  );
  if (!outcome) return leaseRejected(db, input.id);
  const job = toJob(outcome.row);
  if (outcome.failure) reportToObservers(db, 'failed', job);
  return job;
}

/**
 * Queues a leased job again without spending the attempt its claim took, with `columns` saying when and why; its
 * spend is settled by `settle`, and its video goes back to queued.
 */
async function queueLeasedAgain(
  db: Knex,
  lease: { id: string; leaseToken: string },
  columns: (trx: Knex.Transaction) => Record<string, unknown>,
  settle: (spend: Knex.QueryBuilder) => Promise<unknown>,
): Promise<ProcessingJob> {
  const row = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      const [queued] = await trx('processing_jobs')
        .where({ id: lease.id, status: 'running', lease_token: lease.leaseToken })
        .update({
          status: 'queued',
          attempts: trx.raw('attempts - 1'),
          locked_by: null,
          locked_at: null,
          lease_token: null,
          lease_expires_at: null,
          ...columns(trx),
        })
        .returning('*');
      if (!queued) return undefined;
      await settle(trx('quota_spends').where('lease_token', lease.leaseToken));
      if (queued.entity_type === 'video') await moveVideosWithJobs(trx, [queued.entity_id], queued.status);
      return queued as Record<string, unknown>;
    }),
  );
  return row ? toJob(row) : leaseRejected(db, lease.id);
}

/**
 * Hands a claimed job back untouched, as a stopping worker does: queued again at once for any worker, without
 * spending the attempt its claim took or the budget units it counted; its video goes back to queued.
 */
export const releaseJob = (db: Knex, input: z.output<typeof releaseJobInput>): Promise<ProcessingJob> =>
  queueLeasedAgain(
    db,
    input,
    (trx) => ({ run_after: trx.fn.now(), wait_reason: null, wait_detail: null }),
    (spend) => spend.delete(),
  );

/**
 * A snooze: the worker holding the job says "not now, try again at `runAfter`" (or in `delaySeconds` from
 * `clock`, the server's by default). Queued again without spending the attempt and with no failure recorded; the
 * job shows that it is snoozed, and why. The units its claim counted stay spent unless it reports others.
 */
export const snoozeJob = (
  db: Knex,
  input: z.output<typeof snoozeJobInput>,
  clock?: Date,
): Promise<ProcessingJob> =>
  queueLeasedAgain(
    db,
    input,
    (trx) => ({
      run_after:
        input.runAfter ??
        trx.raw('coalesce(?::timestamptz, now()) + make_interval(secs => ?)', [
          clock ?? null,
          input.delaySeconds!,
        ]),
      wait_reason: 'snoozed',
      wait_detail: input.reason ?? null,
    }),
    (spend) =>
      input.unitsSpent === undefined ? Promise.resolve() : spend.update({ units: input.unitsSpent }),
  );

/** Stops a queued or running job; a running worker's later complete or fail is rejected. */
export async function cancelJob(db: Knex, id: string): Promise<ProcessingJob> {
  const row = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      const [cancelled] = await trx('processing_jobs')
        .where({ id })
        .whereIn('status', ['queued', 'running'])
        .update({
          status: 'cancelled',
          completed_at: trx.fn.now(),
          lease_token: null,
          lease_expires_at: null,
        })
        .returning('*');
      if (cancelled?.entity_type === 'video')
        await moveVideosWithJobs(trx, [cancelled.entity_id], 'cancelled');
      return cancelled as Record<string, unknown> | undefined;
    }),
  );
  if (row) return toJob(row);
  throw new ConflictError(
    `only queued or running jobs can be cancelled; this one is ${await currentStatus(db, id)}`,
    'status',
  );
}

/**
 * An admin takes a running job from its worker (one that is stuck, say): queued again at once for any worker, its
 * lease voided, so the worker's later heartbeat, completion, failure or release is rejected; the attempt its claim
 * took is not spent, as on a release. The job records when, who, from which worker and why; its video goes back
 * to queued.
 */
export async function requeueJob(db: Knex, input: z.output<typeof requeueJobInput>): Promise<ProcessingJob> {
  const row = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      const [requeued] = await trx('processing_jobs')
        .where({ id: input.id, status: 'running' })
        .update({
          status: 'queued',
          attempts: trx.raw('attempts - 1'),
          run_after: trx.fn.now(),
          requeued_at: trx.fn.now(),
          requeued_by: input.requeuedBy,
          requeued_from: trx.raw('locked_by'),
          requeue_reason: input.reason,
          locked_by: null,
          locked_at: null,
          lease_token: null,
          lease_expires_at: null,
        })
        .returning('*');
      if (requeued?.entity_type === 'video')
        await moveVideosWithJobs(trx, [requeued.entity_id], requeued.status);
      return requeued as Record<string, unknown> | undefined;
    }),
  );
  if (row) return toJob(row);
  throw new ConflictError(
    `only running jobs can be requeued; this one is ${await currentStatus(db, input.id)}`,
    'status',
  );
}

/** Re-queues a failed job by hand with a fresh set of attempts; its video goes back to queued. */
export async function retryJob(db: Knex, id: string): Promise<ProcessingJob> {
  const row = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      const [queued] = await trx('processing_jobs')
        .where({ id, status: 'failed' })
        .update({ status: 'queued', attempts: 0, run_after: trx.fn.now(), completed_at: null })
        .returning('*');
      if (queued?.entity_type === 'video') await moveVideosWithJobs(trx, [queued.entity_id], queued.status);
      return queued as Record<string, unknown> | undefined;
    }),
  );
  if (row) return toJob(row);
  throw new ConflictError(
    `only failed jobs can be retried; this one is ${await currentStatus(db, id)}`,
    'status',
  );
}
