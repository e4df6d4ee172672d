import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelFactory, videoFactory } from '../../dev/factories';
import { connect } from '../../src/db/connect';
import { claimJobs, completeJobs, enqueueJobs } from '../../src/queue/job-queue';
import { claimJobsInput } from '../../src/schemas/processing-job';
import { transientRetries } from '../../src/services/database-errors';
import { deleteChannel } from '../../src/services/channels';
import { deleteVideo } from '../../src/services/videos';
import { testDatabase, testPoolSettings } from '../support/database';
import { lockWaits, waitsForLock } from '../support/lock-waits';
import { until } from '../support/until';

const db = () => testDatabase().db;
let pool: Knex;
// Connections of their own, so the worker and the delete really wait on each other in PostgreSQL.
beforeAll(() => {
  pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: 4 });
});
afterAll(() => pool.destroy());

/**
 * A worker completes the job of a video while `remove` deletes the video's row or its channel's: another writer holds
 * the job first, so that the completion and then the delete queue behind it, in that order. Resolves with the
 * completion's ids and the deadlocks the two met.
 */
async function completeWhileDeleting(remove: (video: { id: string; channelId: string }) => Promise<unknown>) {
  const video = await videoFactory.create({ channelId: (await channelFactory.create()).id });
  await enqueueJobs(db(), [{ jobType: 'transcript_extraction', entityType: 'video', entityId: video.id }]);
  const [job] = await claimJobs(pool, claimJobsInput.parse({ workerId: 'w', leaseSeconds: 60 }));
  const deadlocksBefore = transientRetries.get('40P01') ?? 0;
  let completion: Awaited<ReturnType<typeof completeJobs>> | undefined;
  const other = await db().transaction();
  try {
    await other('processing_jobs').where({ id: job!.id }).forUpdate().select('id');
    const completing = completeJobs(pool, {
      jobs: [{ id: job!.id, leaseToken: job!.leaseToken, result: null }],
    });
    await until(() => waitsForLock('SELECT * FROM complete_jobs'));
    const deleting = remove(video);
    await until(async () => (await lockWaits()).length >= 2);
    await other.commit();
    [completion] = await Promise.all([completing, deleting]);
  } finally {
    if (!other.isCompleted()) await other.rollback();
  }
  return {
    video,
    job: job!,
    completed: completion!.completed.map((done) => done.id),
    deadlocks: (transientRetries.get('40P01') ?? 0) - deadlocksBefore,
  };
}

describe('a delete while a worker completes a job of what it deletes', () => {
  it('of the video waits for the completion rather than deadlock with it, then takes the job with the video', async () => {
    const run = await completeWhileDeleting((video) => deleteVideo(pool, video.id));

    expect(run.completed).toEqual([run.job.id]);
    expect(run.deadlocks).toBe(0);
    expect(await db()('videos').where({ id: run.video.id }).first()).toBeUndefined();
    expect(await db()('processing_jobs').where({ id: run.job.id }).first()).toBeUndefined();
  });

  it('of the video’s channel waits for the completion rather than deadlock with it, then takes all three', async () => {
    const run = await completeWhileDeleting((video) => deleteChannel(pool, video.channelId));

    expect(run.completed).toEqual([run.job.id]);
    expect(run.deadlocks).toBe(0);
    expect(await db()('channels').where({ id: run.video.channelId }).first()).toBeUndefined();
    expect(await db()('videos').where({ id: run.video.id }).first()).toBeUndefined();
    expect(await db()('processing_jobs').where({ id: run.job.id }).first()).toBeUndefined();
  });
});
