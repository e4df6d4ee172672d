import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoFactory } from '../../dev/factories';
import { connect } from '../../src/db/connect';
import { enqueueJobs } from '../../src/queue/job-queue';
import { transientRetries } from '../../src/services/database-errors';
import { testDatabase, testPoolSettings } from '../support/database';
import { lockWaits } from '../support/lock-waits';
import { until } from '../support/until';

const db = () => testDatabase().db;

let pool: Knex;
// Connections of their own, so the enqueues really run side by side in PostgreSQL.
beforeAll(() => {
  pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: 4 });
});
afterAll(() => pool.destroy());

describe('enqueues running at once over the same videos', () => {
  it('never deadlock when callers list the videos in opposite orders, and leave one active job per video', async () => {
    const videos = await videoFactory.createList(12);
    const jobOf = (video: { id: string }) => ({
      jobType: 'transcript_extraction' as const,
      entityType: 'video' as const,
      entityId: video.id,
    });
    const forward = videos.map(jobOf);
    const backward = [...forward].reverse();
    const deadlocksBefore = transientRetries.get('40P01') ?? 0;
    // Another caller's enqueue of the middle video, open until both writers wait for it: each has then written
    // the videos on its side of it, and goes on into the other's once it rolls back.
    const other = await db().transaction();
    let writing: Promise<{ id: string; entityId: string }[][]> | undefined;
    try {
      await enqueueJobs(other, [jobOf(videos[6]!)]);
      writing = Promise.all([enqueueJobs(pool, forward), enqueueJobs(pool, backward)]);
      await until(async () => (await lockWaits()).length >= 2);
    } finally {
      await other.rollback();
    }
    const [first, second] = await writing!;
    // Both callers get the same job for each video, whoever inserted it.
    const byVideo = (jobs: { id: string; entityId: string }[]) =>
      Object.fromEntries(jobs.map((job) => [job.entityId, job.id]));
    expect(byVideo(second!)).toEqual(byVideo(first!));
    const jobs = await db()('processing_jobs').whereIn(
      'entity_id',
      videos.map((video) => video.id),
    );
    expect(jobs).toHaveLength(videos.length);
    expect((transientRetries.get('40P01') ?? 0) - deadlocksBefore).toBe(0);
  });
});
