import { beforeEach, describe, expect, it } from 'vitest';
import { channelFactory, processingJobFactory, videoFactory } from '../../dev/factories';
import {
  type ClaimedJob,
  type CompleteJobsResult,
  completeJobInput,
  completeJobsInput,
  type EnqueueJob,
  type ProcessingJob,
} from '../../src/schemas/processing-job';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';
import { at, claimAt, resetFlowControl } from '../support/flow-control';

const db = () => testDatabase().db;
const api = useApi();

beforeEach(() => resetFlowControl(db()));

/** A claimed discovery of a channel with `videos` new videos, and the transcript jobs that follow from it. */
async function discovery(videos: number): Promise<{ job: ClaimedJob; followUps: EnqueueJob[] }> {
  const channel = await channelFactory.create();
  await processingJobFactory
    .trait('discovery')
    .create({ entityId: channel.id, runAfter: at('2026-01-01T00:00:00Z') });
  const found = await videoFactory.createList(videos, { channelId: channel.id });
  const [job] = (await claimAt(db(), undefined, 100)).filter((claimed) => claimed.entityId === channel.id);
  return {
    job: job!,
    followUps: found.map((video) => ({
      jobType: 'transcript_extraction',
      entityType: 'video',
      entityId: video.id,
    })),
  };
}

const transcriptJobs = () =>
  db()('processing_jobs')
    .where('job_type', 'transcript_extraction')
    .orderBy('entity_id')
    .select('entity_id', 'status');

describe('follow-up jobs written with a completion', () => {
  it('are enqueued in the transaction that records the result, their videos queued', async () => {
    const { job, followUps } = await discovery(3);
    const completed = await api.mutate<ProcessingJob>('jobs.complete', {
      id: job.id,
      leaseToken: job.leaseToken,
      result: { videosFound: 3, newVideos: 3 },
      followUps,
    });
    expect(completed.data.status).toBe('completed');
    expect(await transcriptJobs()).toEqual(
      followUps
        .map((f) => ({ entity_id: f.entityId, status: 'queued' }))
        .sort((a, b) => (a.entity_id < b.entity_id ? -1 : 1)),
    );
    expect(
      await db()('videos')
        .whereIn(
          'id',
          followUps.map((f) => f.entityId),
        )
        .distinct()
        .pluck('status'),
    ).toEqual(['queued']);
  });

  it('are not enqueued when the completion is rejected', async () => {
    const { job, followUps } = await discovery(2);
    const rejected = await api.mutate('jobs.complete', {
      id: job.id,
      leaseToken: '00000000-0000-4000-8000-000000000001',
      followUps,
    });
    expect(rejected.status).toBe(409);
    expect(await transcriptJobs()).toEqual([]);
  });

  it('take the completion with them when one cannot be enqueued: nothing is recorded, the lease still holds', async () => {
    const { job, followUps } = await discovery(1);
    const missing = { ...followUps[0]!, entityId: '00000000-0000-4000-8000-000000000002' };
    const rejected = await api.mutate('jobs.complete', {
      id: job.id,
      leaseToken: job.leaseToken,
      followUps: [...followUps, missing],
    });
    expect(rejected.status).toBe(400);
    expect(rejected.error?.data.field).toBe('entityId');
    expect(await transcriptJobs()).toEqual([]);
    const retried = await api.mutate<ProcessingJob>('jobs.complete', {
      id: job.id,
      leaseToken: job.leaseToken,
      followUps,
    });
    expect(retried.data.status).toBe('completed');
    expect(await transcriptJobs()).toHaveLength(1);
  });

  it('are enqueued for each job of a batch that completes, and not for one whose lease was lost', async () => {
    const kept = await discovery(2);
    const lost = await discovery(2);
    await db()('processing_jobs')
      .where('id', lost.job.id)
      .update({ lease_token: '00000000-0000-4000-8000-000000000003' });
    const result = await api.mutate<CompleteJobsResult>('jobs.completeMany', {
      jobs: [kept, lost].map(({ job, followUps }) => ({ id: job.id, leaseToken: job.leaseToken, followUps })),
    });
    expect(result.data.completed.map((job) => job.id)).toEqual([kept.job.id]);
    expect(result.data.rejected.map((job) => job.id)).toEqual([lost.job.id]);
    expect((await transcriptJobs()).map((row) => row.entity_id).sort()).toEqual(
      kept.followUps.map((f) => f.entityId).sort(),
    );
  });

  it('find the active job of an entity that has one instead of adding a second', async () => {
    const { job, followUps } = await discovery(1);
    const [existing] = await api
      .mutate<ProcessingJob[]>('jobs.enqueueMany', { jobs: followUps })
      .then((r) => r.data);
    await api.mutate('jobs.complete', { id: job.id, leaseToken: job.leaseToken, followUps });
    expect(await db()('processing_jobs').where('job_type', 'transcript_extraction').pluck('id')).toEqual([
      existing!.id,
    ]);
  });

  it('number at most 1,000 per completion and per batch', () => {
    const lease = {
      id: '00000000-0000-4000-8000-000000000004',
      leaseToken: '00000000-0000-4000-8000-000000000005',
    };
    const followUps = (count: number) =>
      Array.from({ length: count }, (_, index) => ({
        jobType: 'transcript_extraction',
        entityType: 'video',
        entityId: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
      }));
    expect(completeJobInput.safeParse({ ...lease, followUps: followUps(1_000) }).success).toBe(true);
    expect(
      completeJobInput.safeParse({ ...lease, followUps: followUps(1_001) }).error?.issues[0]?.path,
    ).toEqual(['followUps']);
    const batch = (counts: number[]) => ({
      jobs: counts.map((count, index) => ({
        id: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
        leaseToken: lease.leaseToken,
        followUps: followUps(count),
      })),
    });
    expect(completeJobsInput.safeParse(batch([500, 500])).success).toBe(true);
    expect(completeJobsInput.safeParse(batch([500, 501])).error?.issues[0]?.path).toEqual(['jobs']);
  });
});
