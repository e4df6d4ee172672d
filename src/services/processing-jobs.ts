import type { Knex } from 'knex';
import type { z } from 'zod';
import { ChannelModel } from '../models/channel';
import { ProcessingJobModel } from '../models/processing-job';
import { VideoModel } from '../models/video';
import type { Page } from '../schemas/pagination';
import {
  type ListJobsInput,
  type ProcessingJob,
  type updateJobInput,
  withoutLeaseToken,
} from '../schemas/processing-job';
import type { JobEntity, JobWithRelations } from '../schemas/responses';
import { NotFoundError } from './errors';
import { newestFirst } from './pagination';
import { rowsOf } from './rows';
import { moveVideosWithJobs } from './video-follows-job';
import { retryLostRaces } from './lost-races';
import { requireParent } from './parents';

/** Jobs as reads show them: the lease token is not even read (see `processingJobSchema`). */
const readJobs = (db: Knex) => ProcessingJobModel.query(db).modify('withoutLeaseToken');
const jobRows = rowsOf(readJobs, 'job');

export async function getJob(
  db: Knex,
  id: string,
  include?: readonly ('session' | 'channel' | 'video')[],
): Promise<JobWithRelations> {
  return jobRows.find(db, id, include);
}

export async function listJobs(db: Knex, input: ListJobsInput): Promise<Page<JobWithRelations>> {
  const query = readJobs(db);
  if (input.status) query.where('status', input.status);
  if (input.jobType) query.where('job_type', input.jobType);
  if (input.entityType) query.where('entity_type', input.entityType);
  if (input.entityId) query.where('entity_id', input.entityId);
  if (input.sessionId) query.where('session_id', input.sessionId);
  return newestFirst(query, input);
}

/** A session's jobs: 404 for a session that does not exist, rather than an empty page. */
export async function listSessionJobs(
  db: Knex,
  input: ListJobsInput & { sessionId: string },
): Promise<Page<JobWithRelations>> {
  await requireParent(db, 'processing session', input.sessionId, 'sessionId');
  return listJobs(db, input);
}

/**
 * Changes a job's priority or session. A queued job moved into a completed or failed session is cancelled on
 * the way (the jobs' trigger), and its video follows, as on cancel.
 */
export async function updateJob(
  db: Knex,
  { id, ...patch }: z.output<typeof updateJobInput>,
): Promise<ProcessingJob> {
  if (patch.sessionId === undefined) return withoutLeaseToken((await jobRows.patch(db, id, patch)).$toJson());
  const job = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      const before = await trx('processing_jobs')
        .where({ id })
        .forUpdate()
        .first<{ status: string }>('status');
      if (!before) return undefined;
      const moved = await ProcessingJobModel.query(trx).patchAndFetchById(id, patch);
      if (before.status === 'queued' && moved.status === 'cancelled' && moved.entityType === 'video')
        await moveVideosWithJobs(trx, [moved.entityId], 'cancelled');
      return moved;
    }),
  );
  if (!job) throw new NotFoundError('job', id);
  return withoutLeaseToken(job.$toJson());
}

/** Deletes a job; the video of a queued or running transcript job goes back to `discovered`, as on cancel. */
export async function deleteJob(db: Knex, id: string): Promise<ProcessingJob> {
  const row = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      const [deleted] = await trx('processing_jobs').where({ id }).delete().returning('*');
      if (deleted?.entity_type === 'video' && ['queued', 'running'].includes(deleted.status as string))
        await moveVideosWithJobs(trx, [deleted.entity_id], 'cancelled');
      return deleted as Record<string, unknown> | undefined;
    }),
  );
  if (!row) throw new NotFoundError('job', id);
  return withoutLeaseToken(ProcessingJobModel.fromDatabaseJson(row).$toJson());
}

/** The channel or video a job is about; NotFound when the job, or its entity, is gone. */
export async function getJobEntity(db: Knex, id: string): Promise<JobEntity> {
  const job = await jobRows.find(db, id);
  if (job.entityType === 'channel') {
    const channel = await ChannelModel.query(db).findById(job.entityId);
    if (!channel) throw new NotFoundError('channel', job.entityId, 'entityId');
    return { entityType: 'channel', channel: channel.$toJson() };
  }
  const video = await VideoModel.query(db).findById(job.entityId);
  if (!video) throw new NotFoundError('video', job.entityId, 'entityId');
  return { entityType: 'video', video: video.$toJson() };
}
