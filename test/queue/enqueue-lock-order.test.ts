import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { videoFactory } from '../../dev/factories';
import { connect } from '../../src/db/connect';
import { enqueueJobs } from '../../src/queue/job-queue';
import { transientRetries } from '../../src/services/database-errors';
import { testDatabase, testPoolSettings } from '../support/database';

const writers = 4;
let pool: Knex;
// One connection per writer, so the enqueues really run side by side in PostgreSQL.
beforeAll(() => {
  pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: writers });
});
afterAll(() => pool.destroy());

describe('enqueues running at once over the same videos', () => {
  it('never deadlock when callers list the videos in opposite orders, and leave one active job per video', async () => {
    const deadlocksBefore = transientRetries.get('40P01') ?? 0;
    for (let round = 0; round < 10; round += 1) {
      const videos = await videoFactory.createList(12);
      const forward = videos.map((video) => ({
        jobType: 'transcript_extraction' as const,
        entityType: 'video' as const,
        entityId: video.id,
      }));
      const backward = [...forward].reverse();
      const results = await Promise.all(
        Array.from({ length: writers }, (_, writer) => enqueueJobs(pool, writer % 2 ? backward : forward)),
      );
      // Every caller gets the same job for a video, whoever inserted it.
      const byVideo = (jobs: { id: string; entityId: string }[]) =>
        Object.fromEntries(jobs.map((job) => [job.entityId, job.id]));
      for (const jobs of results) expect(byVideo(jobs)).toEqual(byVideo(results[0]!));
      const active = await pool('processing_jobs')
        .whereIn(
          'entity_id',
          videos.map((video) => video.id),
        )
        .count<{ count: string }[]>({ count: '*' });
      expect(Number(active[0]!.count)).toBe(videos.length);
    }
    expect((transientRetries.get('40P01') ?? 0) - deadlocksBefore).toBe(0);
  });
});
