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
import { lockJobsOfSession } from './lock-order';
import { newestFirst } from './pagination';
import { rowsOf, withDatabaseErrors } from './rows';

export const sessionRows = rowsOf(() => ProcessingSessionModel.query(), 'processing session');

export async function createSession(input: z.output<typeof createSessionInput>): Promise<ProcessingSession> {
  return (await sessionRows.insert(input)).$toJson();
}

export async function getSession(id: string): Promise<ProcessingSession> {
  return (await sessionRows.find(id)).$toJson();
}

export async function listSessions(input: ListSessionsInput): Promise<Page<ProcessingSession>> {
  const query = ProcessingSessionModel.query();
  if (input.status) query.where('status', input.status);
  if (input.sessionType) query.where('session_type', input.sessionType);
  return newestFirst(query, input);
}

export async function updateSession({
  id,
  ...patch
}: z.output<typeof updateSessionInput>): Promise<ProcessingSession> {
  return (await sessionRows.patch(id, patch)).$toJson();
}

/** Deletes the session; its jobs stay, as history, with no session. */
export async function deleteSession(id: string): Promise<ProcessingSession> {
  const row = await withDatabaseErrors(() =>
    ProcessingSessionModel.knex().transaction(async (trx) => {
      await lockJobsOfSession(trx, id);
      const [deleted] = await trx('processing_sessions').where({ id }).delete().returning('*');
      return deleted as Record<string, unknown> | undefined;
    }),
  );
  if (!row) throw new NotFoundError('processing session', id);
  return ProcessingSessionModel.fromDatabaseJson(row).$toJson();
}

export type Transition = 'start' | 'pause' | 'resume' | 'complete' | 'fail';

/** Which statuses each transition leaves from, where it goes, and which time it stamps. */
const transitions: Record<
  Transition,
  { from: SessionStatus[]; to: SessionStatus; stamp?: 'started_at' | 'completed_at' }
> = {
  start: { from: ['pending'], to: 'running', stamp: 'started_at' },
  pause: { from: ['running'], to: 'paused' },
  resume: { from: ['paused'], to: 'running' },
  complete: { from: ['running', 'paused'], to: 'completed', stamp: 'completed_at' },
  fail: { from: ['pending', 'running', 'paused'], to: 'failed', stamp: 'completed_at' },
};

/** Moves a session along one legal transition in a single conditional UPDATE; anything else changes nothing. */
export async function transitionSession(id: string, transition: Transition): Promise<ProcessingSession> {
  const { from, to, stamp } = transitions[transition];
  const knex = ProcessingSessionModel.knex();
  const [row] = await withDatabaseErrors(() =>
    knex('processing_sessions')
      .where({ id })
      .whereIn('status', from)
      .update({ status: to, ...(stamp ? { [stamp]: knex.fn.now() } : {}) })
      .returning('*'),
  );
  if (row) return ProcessingSessionModel.fromDatabaseJson(row).$toJson();
  const session = await sessionRows.find(id);
  throw new ConflictError(`a ${session.status} session cannot ${transition}`, 'status');
}

/** A session's count rows past which reading its progress folds them into one row per status. */
export const foldCountsAbove = 64;

/**
 * Folds a session's count rows into one per status. Each row is deleted, and so summed, by one folder only;
 * rows that writers add meanwhile stay for the next fold.
 */
async function foldCounts(id: string): Promise<void> {
  await withDatabaseErrors(() =>
    ProcessingSessionModel.knex().raw(
      `WITH folded AS (DELETE FROM processing_session_job_counts WHERE session_id = ? RETURNING status, jobs)
       INSERT INTO processing_session_job_counts (session_id, status, jobs)
       SELECT ?, status, sum(jobs) FROM folded GROUP BY status HAVING sum(jobs) <> 0`,
      [id, id],
    ),
  );
}

/** Progress from the session's job counts, which triggers keep as jobs change (rows of deltas per session). */
export async function sessionProgress(id: string): Promise<SessionProgress> {
  const session = await sessionRows.find(id);
  const rows = await withDatabaseErrors(() =>
    ProcessingSessionModel.knex()('processing_session_job_counts')
      .where('session_id', id)
      .groupBy('status')
      .select<{ status: JobStatus; jobs: string; rows: string }[]>(
        'status',
        ProcessingSessionModel.knex().raw('sum(jobs) AS jobs, count(*) AS rows'),
      ),
  );
  if (rows.reduce((sum, row) => sum + Number(row.rows), 0) > foldCountsAbove) await foldCounts(id);
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
