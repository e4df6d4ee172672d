import { beforeEach, describe, expect, it } from 'vitest';
import { channelFactory } from '../../dev/factories';
import { observeQueue } from '../../src/queue/events';
import { claimJobs, enqueueJobs } from '../../src/queue/job-queue';
import { claimJobsInput } from '../../src/schemas/processing-job';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

// Claims take any runnable job of the database: each test starts from an empty queue.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

describe('an observer of the queue', () => {
  it('hears only the events it listens for, and the others go on without it', async () => {
    const claimed: string[] = [];
    const stop = observeQueue(db(), { claimed: (jobs) => claimed.push(...jobs.map((job) => job.id)) });
    try {
      const channel = await channelFactory.create();
      const [job] = await enqueueJobs(db(), [
        { jobType: 'channel_discovery', entityType: 'channel', entityId: channel.id },
      ]);
      await claimJobs(db(), claimJobsInput.parse({ workerId: 'w' }));
      expect(claimed).toEqual([job!.id]);
    } finally {
      stop();
    }
  });

  it('hears of the jobs an enqueue added, not of the active jobs it found instead', async () => {
    const enqueued: string[] = [];
    const stop = observeQueue(db(), { enqueued: (jobs) => enqueued.push(...jobs.map((job) => job.id)) });
    try {
      const [known, fresh] = (await channelFactory.createList(2)).map((channel) => ({
        jobType: 'channel_discovery' as const,
        entityType: 'channel' as const,
        entityId: channel.id,
      }));
      const [first] = await enqueueJobs(db(), [known!]);
      const [found, added] = await enqueueJobs(db(), [known!, fresh!]);
      expect(found!.id).toBe(first!.id);
      expect(enqueued).toEqual([first!.id, added!.id]);
    } finally {
      stop();
    }
  });

  it('hears nothing once stopped', async () => {
    const claimed: string[] = [];
    const stop = observeQueue(db(), { claimed: (jobs) => claimed.push(...jobs.map((job) => job.id)) });
    stop();
    const channel = await channelFactory.create();
    await enqueueJobs(db(), [{ jobType: 'channel_discovery', entityType: 'channel', entityId: channel.id }]);
    expect(await claimJobs(db(), claimJobsInput.parse({ workerId: 'w' }))).toHaveLength(1);
    expect(claimed).toEqual([]);
  });
});
