import type { Knex } from 'knex';
import type { z } from 'zod';
import { ProcessingJobModel } from '../models/processing-job';
import {
  claimJobsInput,
  type completeJobInput,
  type EnqueueJob,
  type failJobInput,
  type heartbeatInput,
  type ProcessingJob,
} from '../schemas/processing-job';
import { videoStatusFrom } from '../schemas/video';
import { ConflictError, InvalidInputError } from './errors';
import { jobRows } from './processing-jobs';
import { withDatabaseErrors } from './rows';

/**
 * The PostgreSQL work queue. Every state change is one conditional UPDATE (`WHERE <expected state>`), so two
 * callers can never both win; claims take rows with FOR UPDATE SKIP LOCKED. A claim issues a fresh lease token
 * and only that token may heartbeat, complete or fail the job: a worker whose lease expired and whose job was
 * claimed again is refused, so a result is never recorded twice. Videos, channels and sessions follow their
 * jobs in the same statement or transaction.
 */

/** Retry delays double per attempt; jitter stays within ±20% so each delay still exceeds the one before. */
export const retryBaseSeconds = 10;
export const retryMaxSeconds = 3_600;

export function retryDelaySeconds(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(retryBaseSeconds * 2 ** (attempt - 1), retryMaxSeconds);
  return base * (0.8 + 0.4 * random());
}

const toJob = (row: Record<string, unknown>): ProcessingJob =>
  ProcessingJobModel.fromDatabaseJson(row).$toJson();

const knex = () => ProcessingJobModel.knex();

const activeKey = (job: { jobType: string; entityType: string; entityId: string }) =>
  `${job.jobType}/${job.entityType}/${job.entityId}`;

async function assertEntitiesExist(trx: Knex.Transaction, jobs: EnqueueJob[]): Promise<void> {
  for (const entityType of ['channel', 'video'] as const) {
    const ids = [...new Set(jobs.filter((job) => job.entityType === entityType).map((job) => job.entityId))];
    if (ids.length === 0) continue;
    const found = await trx(`${entityType}s`).whereIn('id', ids).pluck<string[]>('id');
    const missing = ids.find((id) => !found.includes(id));
    if (missing) throw new InvalidInputError(`${entityType} ${missing} does not exist`, 'entityId');
  }
}

/**
 * Enqueues jobs; for a (type, entity) that already has a queued or running job, returns that job instead of
 * adding a second. The partial unique index decides, not a read-then-write; a job that finishes between our
 * insert and our read is looked up again.
 */
export async function enqueueJobs(jobs: EnqueueJob[]): Promise<ProcessingJob[]> {
  return withDatabaseErrors(() =>
    knex().transaction(async (trx) => {
      await assertEntitiesExist(trx, jobs);
      const byKey = new Map<string, Record<string, unknown>>();
      for (let round = 0; round < 3 && byKey.size < new Set(jobs.map(activeKey)).size; round += 1) {
        const pending = jobs.filter((job) => !byKey.has(activeKey(job)));
        const inserted = await trx('processing_jobs')
          .insert(
            pending.map((job) => ({
              job_type: job.jobType,
              entity_type: job.entityType,
              entity_id: job.entityId,
              priority: job.priority,
              max_attempts: job.maxAttempts,
              session_id: job.sessionId,
              run_after: job.runAfter,
              metadata: job.metadata,
            })),
          )
          .onConflict(knex().raw(`(job_type, entity_type, entity_id) WHERE status IN ('queued', 'running')`))
          .ignore()
          .returning('*');
        const existing = await trx('processing_jobs')
          .whereIn(
            ['job_type', 'entity_type', 'entity_id'],
            pending.map((job) => [job.jobType, job.entityType, job.entityId]),
          )
          .whereIn('status', ['queued', 'running']);
        for (const row of [...inserted, ...existing]) {
          byKey.set(`${row.job_type}/${row.entity_type}/${row.entity_id}`, row);
        }
        const newVideoIds = inserted
          .filter((row) => row.job_type === 'transcript_extraction' && row.entity_type === 'video')
          .map((row) => row.entity_id as string);
        if (newVideoIds.length > 0) {
          await trx('videos')
            .whereIn('id', newVideoIds)
            .whereIn('status', videoStatusFrom.queued)
            .update({ status: 'queued' });
        }
      }
      return jobs.map((job) => {
        const row = byKey.get(activeKey(job));
        if (!row)
          throw new ConflictError('the job changed state while it was being enqueued; try again', 'entityId');
        return toJob(row);
      });
    }),
  );
}

/**
 * Hands out up to `limit` runnable jobs: queued ones whose start time has come (by priority, then age) and running
 * ones whose lease expired. Each gets one more attempt, the worker's id, a lease and a new lease token. A job
 * whose lease expired on its last attempt is failed instead.
 */
export async function claimJobs(request: z.input<typeof claimJobsInput>): Promise<ProcessingJob[]> {
  const input = claimJobsInput.parse(request);
  // One statement, so one round trip and atomic without a transaction; every step sees the same snapshot, and
  // the expired leases it fails and the ones it hands out again are disjoint (attempts left or not). It is a named
  // prepared statement, as is the completion: each connection plans it once instead of on every call.
  const claimed = await withDatabaseErrors(() =>
    knex()
      .raw(
        `WITH exhausted AS (
         UPDATE processing_jobs
            SET status = 'failed', completed_at = now(), lease_token = NULL, lease_expires_at = NULL,
                error_message = coalesce(error_message || ' / ', '') || 'lease expired on the last attempt'
          WHERE id IN (SELECT id FROM processing_jobs
                        WHERE status = 'running' AND lease_expires_at < now() AND attempts >= max_attempts
                        ORDER BY lease_expires_at LIMIT 100 FOR UPDATE SKIP LOCKED)
       ), queued AS (
         SELECT id, priority, created_at FROM processing_jobs
          WHERE status = 'queued' AND run_after <= now() AND (:types::job_type[] IS NULL OR job_type = ANY(:types))
          ORDER BY priority DESC, created_at, id
          LIMIT :limit FOR UPDATE SKIP LOCKED
       ), expired AS (
         SELECT id, priority, created_at FROM processing_jobs
          WHERE status = 'running' AND lease_expires_at < now() AND attempts < max_attempts
            AND (:types::job_type[] IS NULL OR job_type = ANY(:types))
          ORDER BY lease_expires_at
          LIMIT :limit FOR UPDATE SKIP LOCKED
       ), chosen AS (
         SELECT id FROM (SELECT * FROM expired UNION ALL SELECT * FROM queued) candidates
          ORDER BY priority DESC, created_at, id
          LIMIT :limit
       ), claimed AS (
         UPDATE processing_jobs AS job
            SET status = 'running', attempts = job.attempts + 1, locked_by = :workerId, locked_at = now(),
                lease_token = gen_random_uuid(), lease_expires_at = now() + make_interval(secs => :leaseSeconds),
                started_at = coalesce(job.started_at, now())
           FROM chosen WHERE job.id = chosen.id
         RETURNING job.*
       ), videos_started AS (
         UPDATE videos SET status = 'processing'
           FROM claimed
          WHERE claimed.entity_type = 'video' AND videos.id = claimed.entity_id
            AND videos.status = ANY(:startsFrom::video_status[])
       )
       SELECT * FROM claimed`,
        {
          types: input.jobTypes ?? null,
          limit: input.limit,
          workerId: input.workerId,
          leaseSeconds: input.leaseSeconds,
          startsFrom: videoStatusFrom.processing,
        },
      )
      .options({ name: 'claim_jobs' }),
  );
  return (claimed.rows as Record<string, unknown>[])
    .map(toJob)
    .sort((a, b) => b.priority - a.priority || a.createdAt.getTime() - b.createdAt.getTime());
}

/** Explains why a lease-guarded update matched nothing: the job is gone, or the lease is not the caller's. */
async function leaseRefused(id: string): Promise<never> {
  const job = await jobRows.find(id);
  throw new ConflictError(
    job.status === 'running'
      ? 'the lease is no longer yours: the job was claimed again'
      : `the job is ${job.status}`,
    'leaseToken',
  );
}

export async function heartbeat(input: z.output<typeof heartbeatInput>): Promise<ProcessingJob> {
  const [row] = await withDatabaseErrors(() =>
    knex()('processing_jobs')
      .where({ id: input.id, status: 'running', lease_token: input.leaseToken })
      .update({ lease_expires_at: knex().raw('now() + make_interval(secs => ?)', [input.leaseSeconds]) })
      .returning('*'),
  );
  return row ? toJob(row) : leaseRefused(input.id);
}

/**
 * Records the result once; the video or channel the job was about, and the session's count, follow in the same
 * statement.
 */
export async function completeJob(input: z.output<typeof completeJobInput>): Promise<ProcessingJob> {
  const completed = await withDatabaseErrors(() =>
    knex()
      .raw(
        `WITH done AS (
         UPDATE processing_jobs
            SET status = 'completed', result = :result::jsonb, completed_at = now(), error_message = NULL,
                lease_token = NULL, lease_expires_at = NULL
          WHERE id = :id AND status = 'running' AND lease_token = :leaseToken
         RETURNING *
       ), video AS (
         UPDATE videos SET status = 'completed', processed_at = now(), error_message = NULL
           FROM done
          WHERE done.entity_type = 'video' AND videos.id = done.entity_id
            AND videos.status = ANY(:completesFrom::video_status[])
       ), channel AS (
         UPDATE channels SET last_checked_at = now()
           FROM done
          WHERE done.entity_type = 'channel' AND done.job_type = 'channel_discovery' AND channels.id = done.entity_id
       ), session AS (
         UPDATE processing_sessions SET processed_videos = processed_videos + 1
           FROM done
          WHERE processing_sessions.id = done.session_id
       )
       SELECT * FROM done`,
        {
          id: input.id,
          leaseToken: input.leaseToken,
          result: input.result === undefined ? null : JSON.stringify(input.result),
          completesFrom: videoStatusFrom.completed,
        },
      )
      .options({ name: 'complete_job' }),
  );
  const [row] = completed.rows as Record<string, unknown>[];
  return row ? toJob(row) : leaseRefused(input.id);
}

/** Records a failure: retried later with exponential backoff while attempts remain, failed for good after. */
export async function failJob(input: z.output<typeof failJobInput>): Promise<ProcessingJob> {
  const row = await withDatabaseErrors(() =>
    knex().transaction(async (trx) => {
      const [job] = await trx('processing_jobs')
        .where({ id: input.id, status: 'running', lease_token: input.leaseToken })
        .forUpdate()
        .select('attempts', 'max_attempts', 'entity_type', 'entity_id');
      if (!job) return undefined;
      const final = !input.retryable || job.attempts >= job.max_attempts;
      const [failed] = await trx('processing_jobs')
        .where({ id: input.id })
        .update({
          status: final ? 'failed' : 'queued',
          error_message: input.error,
          run_after: final
            ? trx.raw('run_after')
            : trx.raw('now() + make_interval(secs => ?)', [retryDelaySeconds(job.attempts)]),
          completed_at: final ? trx.fn.now() : null,
          lease_token: null,
          lease_expires_at: null,
        })
        .returning('*');
      if (job.entity_type === 'video') {
        await trx('videos')
          .where({ id: job.entity_id })
          .whereIn('status', videoStatusFrom.failed)
          .update(
            final
              ? { status: 'failed', error_message: input.error, retry_count: trx.raw('retry_count + 1') }
              : { retry_count: trx.raw('retry_count + 1') },
          );
      }
      return failed as Record<string, unknown>;
    }),
  );
  return row ? toJob(row) : leaseRefused(input.id);
}

/** Stops a queued or running job; a running worker's later complete or fail is refused. */
export async function cancelJob(id: string): Promise<ProcessingJob> {
  const [row] = await withDatabaseErrors(() =>
    knex()('processing_jobs')
      .where({ id })
      .whereIn('status', ['queued', 'running'])
      .update({
        status: 'cancelled',
        completed_at: knex().fn.now(),
        lease_token: null,
        lease_expires_at: null,
      })
      .returning('*'),
  );
  if (row) return toJob(row);
  const job = await jobRows.find(id);
  throw new ConflictError(
    `only queued or running jobs can be cancelled; this one is ${job.status}`,
    'status',
  );
}

/** Re-queues a failed job by hand with a fresh set of attempts; its video goes back to queued. */
export async function retryJob(id: string): Promise<ProcessingJob> {
  const row = await withDatabaseErrors(() =>
    knex().transaction(async (trx) => {
      const [queued] = await trx('processing_jobs')
        .where({ id, status: 'failed' })
        .update({ status: 'queued', attempts: 0, run_after: trx.fn.now(), completed_at: null })
        .returning('*');
      if (queued?.entity_type === 'video' && queued.job_type === 'transcript_extraction') {
        await trx('videos')
          .where({ id: queued.entity_id })
          .whereIn('status', videoStatusFrom.queued)
          .update({ status: 'queued' });
      }
      return queued as Record<string, unknown> | undefined;
    }),
  );
  if (row) return toJob(row);
  const job = await jobRows.find(id);
  throw new ConflictError(`only failed jobs can be retried; this one is ${job.status}`, 'status');
}
