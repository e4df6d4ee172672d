import type { Knex } from 'knex';
import type { z } from 'zod';
import { ProcessingSessionModel } from '../models/processing-session';
import type { Page } from '../schemas/pagination';
import { type JobStatus, jobStatuses } from '../schemas/processing-job';
import type {
  createSessionInput,
  ListSessionsInput,
  ProcessingSession,
  SessionStatus,
  updateSessionInput,
} from '../schemas/processing-session';
import type { SessionProgress } from '../schemas/responses';
import { ConflictError, NotFoundError } from './errors';
import { lockJobsOfSession, lockVideosOfQueuedJobs } from './lock-order';
import { moveVideosWithJobs } from './video-follows-job';
import { newestFirst } from './pagination';
import { rowsOf } from './rows';
import { retryLostRaces } from './lost-races';

const sessionRows = rowsOf((db) => ProcessingSessionModel.query(db), 'processing session');

export async function createSession(
  db: Knex,
  input: z.output<typeof createSessionInput>,
): Promise<ProcessingSession> {
  return (await sessionRows.insert(db, input)).$toJson();
}

export async function getSession(db: Knex, id: string): Promise<ProcessingSession> {
  return sessionRows.find(db, id);
}

export async function listSessions(db: Knex, input: ListSessionsInput): Promise<Page<ProcessingSession>> {
  const query = ProcessingSessionModel.query(db);
  if (input.status) query.where('status', input.status);
  if (input.sessionType) query.where('session_type', input.sessionType);
  return newestFirst(query, input);
}

export async function updateSession(
  db: Knex,
  { id, ...patch }: z.output<typeof updateSessionInput>,
): Promise<ProcessingSession> {
  return (await sessionRows.patch(db, id, patch)).$toJson();
}

/** Deletes the session; its jobs stay, as history, with no session. */
export async function deleteSession(db: Knex, id: string): Promise<ProcessingSession> {
  const row = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      // Its jobs lose their session (ON DELETE SET NULL), and with it any hold a pause put on them.
      await lockJobsOfSession(trx, id);
      const [deleted] = await trx('processing_sessions').where({ id }).delete().returning('*');
      return deleted as Record<string, unknown> | undefined;
    }),
  );
  if (!row) throw new NotFoundError('processing session', id);
  return ProcessingSessionModel.fromDatabaseJson(row).$toJson();
}

export type Transition = 'start' | 'pause' | 'resume' | 'complete' | 'fail';

/**
 * Which statuses each transition leaves from, where it goes, which time it stamps, and what it does to the
 * session's jobs: a pause holds its queued and running jobs (running ones finish normally; their expired leases
 * wait too), a resume gives them back to the queue at once, and completing or failing cancels its queued jobs.
 */
const transitions: Record<
  Transition,
  {
    from: SessionStatus[];
    to: SessionStatus;
    stamp?: 'started_at' | 'completed_at';
    jobs?: 'hold' | 'release' | 'cancel';
  }
> = {
  start: { from: ['pending'], to: 'running', stamp: 'started_at' },
  pause: { from: ['running'], to: 'paused', jobs: 'hold' },
  resume: { from: ['paused'], to: 'running', jobs: 'release' },
  complete: { from: ['running', 'paused'], to: 'completed', stamp: 'completed_at', jobs: 'cancel' },
  fail: { from: ['pending', 'running', 'paused'], to: 'failed', stamp: 'completed_at', jobs: 'cancel' },
};

/** Changes a session's queued and running jobs as `jobs` says, once the session's own status has moved. */
async function moveJobsOfSession(
  trx: Knex.Transaction,
  id: string,
  jobs: 'hold' | 'release' | 'cancel',
): Promise<void> {
  const active = () =>
    trx('processing_jobs').where('session_id', id).whereIn('status', ['queued', 'running']);
  if (jobs === 'hold') {
    await active().where('held', false).update({ held: true });
    return;
  }
  if (jobs === 'release') {
    await active().where('held', true).update({ held: false });
    return;
  }
  await active().where({ held: true, status: 'running' }).update({ held: false });
  const cancelled = await trx('processing_jobs')
    .where({ session_id: id, status: 'queued' })
    .update({ status: 'cancelled', held: false, completed_at: trx.fn.now() })
    .returning<{ entity_type: string; entity_id: string }[]>(['entity_type', 'entity_id']);
  await moveVideosWithJobs(
    trx,
    cancelled.filter((job) => job.entity_type === 'video').map((job) => job.entity_id),
    'cancelled',
  );
}

/**
 * Moves a session along one legal transition with a conditional UPDATE, and its jobs with it, in one transaction;
 * anything else changes nothing. Locks go jobs, videos, session (see `lock-order.ts`). A transition that moves
 * jobs locks the session FOR UPDATE, which a job entering its queue waits for (the jobs' trigger reads the
 * session under KEY SHARE) and which waits for such jobs to commit, so no job is left claimable in a paused
 * session or queued in a finished one.
 */
export async function transitionSession(
  db: Knex,
  id: string,
  transition: Transition,
): Promise<ProcessingSession> {
  const { from, to, stamp, jobs } = transitions[transition];
  const row = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      if (jobs) await lockJobsOfSession(trx, id, { active: true });
      if (jobs === 'cancel') await lockVideosOfQueuedJobs(trx, id);
      if (jobs) await trx('processing_sessions').where({ id }).forUpdate().select('id');
      const [moved] = await trx('processing_sessions')
        .where({ id })
        .whereIn('status', from)
        .update({ status: to, ...(stamp ? { [stamp]: trx.fn.now() } : {}) })
        .returning('*');
      if (moved && jobs) await moveJobsOfSession(trx, id, jobs);
      return moved as Record<string, unknown> | undefined;
    }),
  );
  if (row) return ProcessingSessionModel.fromDatabaseJson(row).$toJson();
  const session = await sessionRows.find(db, id);
  throw new ConflictError(`a ${session.status} session cannot ${transition}`, 'status');
}

/** A session's count rows past which reading its progress folds them into one row per status. */
export const foldCountsAbove = 64;

/**
 * Folds a session's count rows into one per status. Each row is deleted, and so summed, by one folder only;
 * rows that writers add meanwhile stay for the next fold.
 */
async function foldCounts(db: Knex, id: string): Promise<void> {
  await retryLostRaces(() =>
    db.raw(
      `WITH folded AS (DELETE FROM processing_session_job_counts WHERE session_id = ? RETURNING status, jobs)
       INSERT INTO processing_session_job_counts (session_id, status, jobs)
       SELECT ?, status, sum(jobs) FROM folded GROUP BY status HAVING sum(jobs) <> 0`,
      [id, id],
    ),
  );
}

/** Progress from the session's job counts, which triggers keep as jobs change (rows of deltas per session). */
export async function sessionProgress(db: Knex, id: string): Promise<SessionProgress> {
  const session = await sessionRows.find(db, id);
  const rows = await db('processing_session_job_counts')
    .where('session_id', id)
    .groupBy('status')
    .select<{ status: JobStatus; jobs: string; rows: string }[]>(
      'status',
      db.raw('sum(jobs) AS jobs, count(*) AS rows'),
    );
  if (rows.reduce((sum, row) => sum + Number(row.rows), 0) > foldCountsAbove) await foldCounts(db, id);
  const counts = Object.fromEntries(jobStatuses.map((status) => [status, 0])) as Record<JobStatus, number>;
  for (const row of rows) counts[row.status] = Number(row.jobs);
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const finished = counts.completed + counts.failed + counts.cancelled;
  const elapsedSeconds = session.startedAt ? (Date.now() - session.startedAt.getTime()) / 1_000 : 0;
  const ratePerSecond = elapsedSeconds > 0 ? counts.completed / elapsedSeconds : null;
  const remaining = total - finished;
  const estimatedFinishAt =
    ratePerSecond && ratePerSecond > 0 ? new Date(Date.now() + (remaining / ratePerSecond) * 1_000) : null;
  return {
    sessionId: id,
    status: session.status,
    total,
    ...counts,
    percentDone: total === 0 ? 0 : Math.round((finished / total) * 10_000) / 100,
    ratePerSecond,
    estimatedFinishAt,
    processedVideos: session.processedVideos,
  };
}
