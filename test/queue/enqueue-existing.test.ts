import { describe, expect, it } from 'vitest';
import { processingJobFactory, videoFactory } from '../../dev/factories';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

describe('an enqueue of an entity that has finished jobs of the same type beside its active one', () => {
  it('returns the active job, whether the finished ones are older or newer', async () => {
    const video = await videoFactory.create();
    const job = {
      jobType: 'transcript_extraction' as const,
      entityType: 'video' as const,
      entityId: video.id,
    };
    // Older than the active job, then newer, whichever order a read without the status would meet them in.
    const finished = async (createdAt: Date) => {
      const done = await processingJobFactory.trait('completed').create(job);
      await db()('processing_jobs')
        .where('id', done.id)
        .update({ created_at: createdAt, completed_at: createdAt });
    };
    await finished(new Date(Date.now() - 3_600_000));
    const [active] = await enqueueJobs(db(), [job]);
    await finished(new Date(Date.now() + 1_000));

    const [found] = await enqueueJobs(db(), [job]);
    expect(found).toMatchObject({ id: active!.id, status: 'queued' });
    expect(await db()('processing_jobs').where('entity_id', video.id).pluck('status')).toHaveLength(3);
  });
});
