import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { channelFactory, videoFactory } from '../../dev/factories';
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

describe('an enqueue beside a delete of the channel it names', () => {
  it('takes its locks on videos before channels, as the delete does, so the two queue instead of deadlocking', async () => {
    const channel = await channelFactory.create();
    // A completed video: the enqueue does not move it, so it first meets the video's row in its existence check.
    const video = await videoFactory.trait('completed').create({ channelId: channel.id });
    const deadlocksBefore = transientRetries.get('40P01') ?? 0;
    // A delete of the channel, as `deleteChannel` takes its locks: the channel's videos, then the channel.
    const deleting = await db().transaction();
    let enqueuing: Promise<unknown> | undefined;
    try {
      await deleting('videos').where('channel_id', channel.id).forUpdate().select('id');
      enqueuing = enqueueJobs(pool, [
        { jobType: 'channel_discovery', entityType: 'channel', entityId: channel.id },
        { jobType: 'transcript_extraction', entityType: 'video', entityId: video.id },
      ]).catch((error: unknown) => error);
      await until(async () => (await lockWaits()).length >= 1);
      await deleting('channels').where('id', channel.id).delete();
      await deleting.commit();
    } catch (error) {
      await deleting.rollback();
      throw error;
    }
    // It waited for the delete, and finds what it names gone.
    expect(await enqueuing).toMatchObject({ code: '23503', constraint: 'processing_jobs_entity_exists' });
    expect((transientRetries.get('40P01') ?? 0) - deadlocksBefore).toBe(0);
    expect(await db()('processing_jobs').where('entity_id', channel.id)).toEqual([]);
  });
});
