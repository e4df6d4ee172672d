import { describe, expect, it } from 'vitest';
import { processingSessionFactory, videoFactory } from '../../dev/factories';
import type { ClaimedJob, ProcessingJob } from '../../src/schemas/processing-job';
import type { VideoStatus } from '../../src/schemas/video';
import type { VideoCounts } from '../../src/schemas/responses';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const api = useApi();

/** A video with a transcript job in a session of its own, so claims in this file take only their own job. */
async function videoWithJob(maxAttempts = 3) {
  const video = await videoFactory.create();
  const session = await processingSessionFactory.trait('running').create();
  const job = await api.mutate<ProcessingJob>('jobs.enqueue', {
    jobType: 'transcript_extraction',
    entityType: 'video',
    entityId: video.id,
    sessionId: session.id,
    maxAttempts,
    priority: 1_000_000,
  });
  return { video, job: job.data };
}

async function claim(job: ProcessingJob): Promise<ClaimedJob> {
  const claimed = await api.mutate<ClaimedJob[]>('jobs.claim', {
    workerId: 'w',
    limit: 100,
    leaseSeconds: 60,
  });
  const mine = claimed.data.find((candidate) => candidate.id === job.id);
  if (!mine) throw new Error('the job was not claimed');
  return mine;
}

const statusOf = async (id: string) =>
  (await testDatabase().db('videos').where({ id }).first<{ status: VideoStatus }>()).status;

/** Each way a transcript job moves, and the status its video must have afterwards. */
const moves: { move: string; video: VideoStatus; act: (job: ProcessingJob) => Promise<void> }[] = [
  { move: 'enqueued', video: 'queued', act: async () => undefined },
  { move: 'claimed', video: 'processing', act: async (job) => void (await claim(job)) },
  {
    move: 'completed',
    video: 'completed',
    act: async (job) => {
      const { leaseToken } = await claim(job);
      await api.mutate('jobs.complete', { id: job.id, leaseToken });
    },
  },
  {
    move: 'failed, waiting for its retry',
    video: 'queued',
    act: async (job) => {
      const { leaseToken } = await claim(job);
      const failed = await api.mutate<ProcessingJob>('jobs.fail', {
        id: job.id,
        leaseToken,
        error: 'timeout',
      });
      expect(failed.data.status).toBe('queued');
    },
  },
  {
    move: 'failed for good',
    video: 'failed',
    act: async (job) => {
      const { leaseToken } = await claim(job);
      await api.mutate('jobs.fail', { id: job.id, leaseToken, error: 'gone', retryable: false });
    },
  },
  {
    move: 'cancelled while queued',
    video: 'discovered',
    act: async (job) => void (await api.mutate('jobs.cancel', { id: job.id })),
  },
  {
    move: 'cancelled while running',
    video: 'discovered',
    act: async (job) => {
      await claim(job);
      await api.mutate('jobs.cancel', { id: job.id });
    },
  },
  {
    move: 'requeued by an admin while running',
    video: 'queued',
    act: async (job) => {
      await claim(job);
      await api.mutate('jobs.requeue', { id: job.id, requeuedBy: 'ops', reason: 'its worker is stuck' });
    },
  },
  {
    move: 'deleted while running',
    video: 'discovered',
    act: async (job) => {
      await claim(job);
      await api.mutate('jobs.delete', { id: job.id });
    },
  },
  {
    move: 'lease expired on its last attempt',
    video: 'failed',
    act: async (job) => {
      await claim(job);
      await testDatabase()
        .db('processing_jobs')
        .where({ id: job.id })
        .update({ lease_expires_at: new Date(0), attempts: 3 });
      await api.mutate('jobs.claim', { workerId: 'sweeper', jobTypes: ['channel_discovery'] });
    },
  },
  {
    move: 'retried by hand after failing',
    video: 'queued',
    act: async (job) => {
      const { leaseToken } = await claim(job);
      await api.mutate('jobs.fail', { id: job.id, leaseToken, error: 'gone', retryable: false });
      await api.mutate('jobs.retry', { id: job.id });
    },
  },
];

describe('a video follows its transcript job', () => {
  it.each(moves)('is $video when its job was $move', async ({ video: expected, act }) => {
    const { video, job } = await videoWithJob();
    await act(job);
    expect(await statusOf(video.id)).toBe(expected);
  });

  it('is never counted as processing once its running job is cancelled', async () => {
    const { video, job } = await videoWithJob();
    await claim(job);
    await api.mutate('jobs.cancel', { id: job.id });
    const counts = await api.query<VideoCounts>('channels.videoCounts', { channelId: video.channelId });
    expect(counts.data).toMatchObject({ processing: 0, discovered: 1 });
  });

  it('counts each failed attempt, and takes the error only of the failure that ends its job', async () => {
    const { video, job } = await videoWithJob(2);
    const failAttempt = async (error: string) => {
      const { leaseToken } = await claim(job);
      await api.mutate('jobs.fail', { id: job.id, leaseToken, error });
      // Due again at once, not after its retry's delay.
      await testDatabase()
        .db('processing_jobs')
        .where({ id: job.id })
        .update({ run_after: new Date(0) });
      return testDatabase()
        .db('videos')
        .where({ id: video.id })
        .first('status', 'error_message', 'retry_count');
    };
    expect(await failAttempt('timeout')).toEqual({ status: 'queued', error_message: null, retry_count: 1 });
    expect(await failAttempt('gone')).toEqual({ status: 'failed', error_message: 'gone', retry_count: 2 });
  });

  it('drops the error of a failure that ended its job once a retry of that job completes', async () => {
    const { video, job } = await videoWithJob(1);
    const first = await claim(job);
    await api.mutate('jobs.fail', { id: job.id, leaseToken: first.leaseToken, error: 'gone' });
    expect(
      await testDatabase().db('videos').where({ id: video.id }).first('status', 'error_message'),
    ).toEqual({
      status: 'failed',
      error_message: 'gone',
    });
    await api.mutate('jobs.retry', { id: job.id });
    const again = await claim(job);
    await api.mutate('jobs.complete', { id: job.id, leaseToken: again.leaseToken, result: null });
    const after = await testDatabase().db('videos').where({ id: video.id }).first();
    expect(after).toMatchObject({ status: 'completed', error_message: null });
    expect(after.processed_at).toBeInstanceOf(Date);
  });

  it('keeps the time its job first started through a retry', async () => {
    const { job } = await videoWithJob(2);
    const first = await claim(job);
    const startedAt = (await testDatabase().db('processing_jobs').where({ id: job.id }).first()).started_at;
    await api.mutate('jobs.fail', { id: job.id, leaseToken: first.leaseToken, error: 'timeout' });
    await testDatabase()
      .db('processing_jobs')
      .where({ id: job.id })
      .update({ run_after: new Date(0) });
    await claim(job);
    const row = await testDatabase().db('processing_jobs').where({ id: job.id }).first();
    expect(row.attempts).toBe(2);
    expect(row.started_at).toEqual(startedAt);
  });

  it('can be queued again after its job was cancelled', async () => {
    const { video, job } = await videoWithJob();
    await api.mutate('jobs.cancel', { id: job.id });
    const again = await api.mutate<ProcessingJob>('jobs.enqueue', {
      jobType: 'transcript_extraction',
      entityType: 'video',
      entityId: video.id,
    });
    expect(again.data.id).not.toBe(job.id);
    expect(await statusOf(video.id)).toBe('queued');
  });
});
