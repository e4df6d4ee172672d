import type { Knex } from 'knex';
import type { QueryBuilder } from 'objection';
import { ProcessingJobModel } from '../models/processing-job';
import {
  type BulkAction,
  type BulkChangeInput,
  type BulkChangeResult,
  type BulkPreviewInput,
  type BulkPreviewResult,
  bulkActionMoves,
  type JobFilter,
  maxBulkCount,
} from '../schemas/job-bulk';
import type { JobStatus } from '../schemas/processing-job';
import { likePattern } from '../services/like-pattern';
import { retryLostRaces } from '../services/lost-races';
import { keysetPage } from '../services/pagination';
import { moveVideosWithJobs } from '../services/video-follows-job';

/**
 * Retry and cancel of many jobs at once, chosen by a filter: what an operator does from the dashboard and a script
 * does over the API. A preview counts exactly the jobs a call would change. Each call changes at most `limit`
 * jobs in one transaction, newest first, and says where it stopped: a caller goes on from there, so a job that
 * fails again after its retry is not retried twice in one sweep.
 */

type JobQuery = QueryBuilder<ProcessingJobModel, ProcessingJobModel[]>;

/**
 * A failed job is retried only if it is the latest of its key (type and entity) and no other job of that key is
 * queued or running: retrying an older one would run the entity twice, or over a newer result. A job of a
 * completed or failed session is not retried either: the session takes no new work, so the jobs' trigger would
 * cancel it on the way.
 */
const retryable = `NOT EXISTS (
  SELECT 1 FROM processing_jobs other
   WHERE other.job_type = processing_jobs.job_type AND other.entity_type = processing_jobs.entity_type
     AND other.entity_id = processing_jobs.entity_id AND other.id <> processing_jobs.id
     AND (other.status IN ('queued', 'running')
          OR (other.created_at, other.id) > (processing_jobs.created_at, processing_jobs.id)))
  AND NOT EXISTS (
  SELECT 1 FROM processing_sessions session
   WHERE session.id = processing_jobs.session_id AND session.status IN ('completed', 'failed'))`;

/** Narrows `query` to the jobs `action` would change now among those `filter` names. */
function movable(query: JobQuery, action: BulkAction, filter: JobFilter): JobQuery {
  query.whereIn('processing_jobs.status', filter.status ? [filter.status] : [...bulkActionMoves[action]]);
  if (filter.jobType) query.where('processing_jobs.job_type', filter.jobType);
  if (filter.sessionId) query.where('processing_jobs.session_id', filter.sessionId);
  if (filter.errorContains)
    query.where('processing_jobs.error_message', 'ilike', likePattern(filter.errorContains));
  if (filter.createdAfter) query.where('processing_jobs.created_at', '>=', filter.createdAfter);
  if (filter.createdBefore) query.where('processing_jobs.created_at', '<', filter.createdBefore);
  if (action === 'retry') query.whereRaw(retryable);
  return query;
}

/** How many jobs `action` would change now (up to `maxBulkCount`), and the newest of them. */
export async function previewBulk(db: Knex, input: BulkPreviewInput): Promise<BulkPreviewResult> {
  const matching = movable(ProcessingJobModel.query(db), input.action, input)
    .select(db.raw('1'))
    .limit(maxBulkCount + 1);
  const [counted] = await db.from(matching.toKnexQuery().as('matching')).count<{ count: string }[]>({
    count: '*',
  });
  const count = Number(counted!.count);
  const sample =
    // Stryker disable next-line ConditionalExpression: a saved query; a sample of none reads none.
    input.sampleSize === 0
      ? []
      : await movable(ProcessingJobModel.query(db).modify('withoutLeaseToken'), input.action, input)
          .orderBy([
            { column: 'processing_jobs.created_at', order: 'desc' },
            { column: 'processing_jobs.id', order: 'desc' },
          ])
          .limit(input.sampleSize);
  return { count: Math.min(count, maxBulkCount), exact: count <= maxBulkCount, sample };
}

/** What each action writes on the jobs it moves, as `jobs.retry` and `jobs.cancel` do for one. */
const changes: Record<BulkAction, (trx: Knex.Transaction) => Record<string, unknown>> = {
  retry: (trx) => ({ status: 'queued', attempts: 0, run_after: trx.fn.now(), completed_at: null }),
  cancel: (trx) => ({
    status: 'cancelled',
    completed_at: trx.fn.now(),
    lease_token: null,
    lease_expires_at: null,
  }),
};

/**
 * An enqueue that commits an active job of the same key between the batch's read and its write fails the write
 * on the one-active-job index; the batch then runs again, and finds that job superseded.
 */
const raceAttempts = 3;
const lostToAnEnqueue = (error: unknown) =>
  (error as { constraint?: unknown }).constraint === 'processing_jobs_one_active_per_entity';

async function changeBatch(db: Knex, action: BulkAction, input: BulkChangeInput): Promise<BulkChangeResult> {
  return db.transaction(async (trx) => {
    const page = await keysetPage(
      movable(ProcessingJobModel.query(trx), action, input).select(
        // Stryker disable next-line StringLiteral: knex reads an empty column name as `*`, which holds the id too.
        'processing_jobs.id',
        'processing_jobs.created_at',
      ),
      {
        sortKey: 'processing_jobs.created_at',
        sortValue: (job) => job.createdAt.toISOString(),
        idColumn: 'processing_jobs.id',
        limit: input.limit,
        cursor: input.cursor,
      },
    );
    const ids = page.items.map((job) => job.id);
    // Stryker disable next-line ConditionalExpression: a saved query; a page of none moves none and has no next page.
    if (ids.length === 0) return { changed: 0, nextCursor: null };
    // Locked in the order every write of several jobs takes them (lock-order.ts), then moved if they still
    // match: a worker may have finished one meanwhile.
    await trx('processing_jobs')
      .whereIn('id', ids)
      .orderBy(['job_type', 'entity_type', 'entity_id', 'id'])
      .forUpdate()
      .select('id');
    const moved = await movable(ProcessingJobModel.query(trx), action, input)
      .whereIn('processing_jobs.id', ids)
      .toKnexQuery()
      .update(changes[action](trx))
      .returning<{ status: JobStatus; entity_type: string; entity_id: string }[]>([
        'status',
        'entity_type',
        'entity_id',
      ]);
    // A retried job whose session closed meanwhile was cancelled by the jobs' trigger: its video follows that.
    for (const status of new Set(moved.map((job) => job.status))) {
      // Stryker disable next-line ConditionalExpression: a channel's id names no video, so moving it moves none.
      const videos = moved.filter((job) => job.status === status && job.entity_type === 'video');
      await moveVideosWithJobs(
        trx,
        videos.map((job) => job.entity_id),
        status,
      );
    }
    return { changed: moved.length, nextCursor: page.nextCursor };
  });
}

/** Runs `action` on the next `limit` jobs the filter names, past `cursor`, in one transaction. */
export async function changeBulk(
  db: Knex,
  action: BulkAction,
  input: BulkChangeInput,
): Promise<BulkChangeResult> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await retryLostRaces(() => changeBatch(db, action, input));
    } catch (error) {
      if (!lostToAnEnqueue(error) || attempt >= raceAttempts) throw error;
    }
  }
}
