import { describe, expect, it } from 'vitest';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  videoFactory,
} from '../../dev/factories';
import type { Page } from '../../src/schemas/pagination';
import type { ClaimedJob, CompleteJobsResult, ProcessingJob } from '../../src/schemas/processing-job';
import type { ProcessingSession } from '../../src/schemas/processing-session';
import type { Video } from '../../src/schemas/video';
import type { JobEntity, JobWithRelations } from '../../src/schemas/responses';
import type { SessionProgress } from '../../src/schemas/responses';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const api = useApi();

/** Jobs in this file are claimed by type and session so that tests running side by side do not take each other's. */
async function claimOne(sessionId: string, workerId = 'worker-a') {
  const claimed = await api.mutate<ClaimedJob[]>('jobs.claim', { workerId, limit: 100, leaseSeconds: 60 });
  return claimed.data.filter((job) => job.sessionId === sessionId);
}

describe('jobs API', () => {
  it('enqueues a job once per type and entity, returning the existing one for a duplicate', async () => {
    const video = await videoFactory.create();
    const input = { jobType: 'transcript_extraction', entityType: 'video', entityId: video.id, priority: 5 };
    const first = await api.mutate<ProcessingJob>('jobs.enqueue', input);
    const second = await api.mutate<ProcessingJob>('jobs.enqueue', input);
    expect(first.status).toBe(200);
    expect(second.data.id).toBe(first.data.id);
    expect(first.data).toMatchObject({ status: 'queued', attempts: 0, maxAttempts: 3, priority: 5 });
    const read = await api.query<Video>('videos.get', { id: video.id });
    expect(read.data.status).toBe('queued');
  });

  it('enqueues an entity named by its id in capitals as the same entity, once', async () => {
    const video = await videoFactory.create();
    const job = (entityId: string) => ({ jobType: 'transcript_extraction', entityType: 'video', entityId });
    const upper = await api.mutate<ProcessingJob>('jobs.enqueue', job(video.id.toUpperCase()));
    expect(upper.status).toBe(200);
    expect(upper.data).toMatchObject({ entityId: video.id, status: 'queued' });
    const lower = await api.mutate<ProcessingJob>('jobs.enqueue', job(video.id));
    expect(lower.data.id).toBe(upper.data.id);
    const both = await api.mutate<ProcessingJob[]>('jobs.enqueueMany', {
      jobs: [job(video.id), job(video.id.toUpperCase())],
    });
    expect(both.data.map((found) => found.id)).toEqual([upper.data.id, upper.data.id]);
  });

  it('enqueues a batch in input order, duplicates included', async () => {
    const [a, b] = await videoFactory.createList(2);
    const job = (entityId: string) => ({ jobType: 'transcript_extraction', entityType: 'video', entityId });
    const jobs = await api.mutate<ProcessingJob[]>('jobs.enqueueMany', {
      jobs: [job(a!.id), job(b!.id), job(a!.id)],
    });
    expect(jobs.data.map((j) => j.entityId)).toEqual([a!.id, b!.id, a!.id]);
    expect(jobs.data[0]!.id).toBe(jobs.data[2]!.id);
  });

  it('returns the running job for an entity enqueued again while it runs, and a new job once it has finished, which leaves a completed video completed', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const [busy, idle] = await videoFactory.createList(2);
    const job = (entityId: string) => ({
      jobType: 'transcript_extraction',
      entityType: 'video',
      entityId,
      sessionId: session.id,
      priority: 1_000_000,
    });
    await api.mutate('jobs.enqueue', job(busy!.id));
    const [claimed] = await claimOne(session.id);

    const again = await api.mutate<ProcessingJob>('jobs.enqueue', job(busy!.id));
    expect(again.status).toBe(200);
    expect(again.data).toMatchObject({
      id: claimed!.id,
      status: 'running',
      attempts: 1,
      lockedBy: 'worker-a',
    });
    const batch = await api.mutate<ProcessingJob[]>('jobs.enqueueMany', {
      jobs: [job(idle!.id), job(busy!.id)],
    });
    expect(batch.status).toBe(200);
    expect(batch.data.map(({ entityId, status }) => ({ entityId, status }))).toEqual([
      { entityId: idle!.id, status: 'queued' },
      { entityId: busy!.id, status: 'running' },
    ]);
    expect(batch.data[1]!.id).toBe(claimed!.id);
    expect((await api.query<Video>('videos.get', { id: busy!.id })).data.status).toBe('processing');

    await api.mutate('jobs.complete', { id: claimed!.id, leaseToken: claimed!.leaseToken, result: null });
    const next = await api.mutate<ProcessingJob>('jobs.enqueue', job(busy!.id));
    expect(next.data).toMatchObject({ status: 'queued', attempts: 0 });
    expect(next.data.id).not.toBe(claimed!.id);
    // Beside its finished job, the entity's active one is the job an enqueue finds.
    const repeated = await api.mutate<ProcessingJob>('jobs.enqueue', job(busy!.id));
    expect(repeated.data.id).toBe(next.data.id);
    // A video whose transcript is done stays completed while a later job about it waits.
    expect((await api.query<Video>('videos.get', { id: busy!.id })).data.status).toBe('completed');
  });

  it('rejects a job about a row that does not exist, naming entityId, and a missing session, naming sessionId', async () => {
    const missing = await api.mutate('jobs.enqueue', {
      jobType: 'channel_discovery',
      entityType: 'channel',
      entityId: '00000000-0000-4000-8000-000000000003',
    });
    expect(missing.status).toBe(400);
    expect(missing.error?.data.field).toBe('entityId');
    const channel = await channelFactory.create();
    const noSession = await api.mutate('jobs.enqueue', {
      jobType: 'channel_discovery',
      entityType: 'channel',
      entityId: channel.id,
      sessionId: '00000000-0000-4000-8000-000000000004',
    });
    expect(noSession.status).toBe(400);
    expect(noSession.error?.data.field).toBe('sessionId');
  });

  it('does not let update write lifecycle fields', async () => {
    const job = await processingJobFactory.create();
    const response = await api.mutate('jobs.update', { id: job.id, status: 'completed', attempts: 0 });
    expect(response.status).toBe(400);
    const ok = await api.mutate<ProcessingJob>('jobs.update', {
      id: job.id,
      priority: 9,
      metadata: { note: 'rush' },
    });
    expect(ok.data).toMatchObject({ priority: 9, metadata: { note: 'rush' }, status: 'queued' });
  });

  it('runs a job from claim to completion; its video and session follow', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const video = await videoFactory.create();
    await api.mutate('jobs.enqueue', {
      jobType: 'transcript_extraction',
      entityType: 'video',
      entityId: video.id,
      sessionId: session.id,
      priority: 1_000_000,
    });
    const [claimed] = await claimOne(session.id);
    expect(claimed).toMatchObject({ status: 'running', attempts: 1, lockedBy: 'worker-a' });
    expect((await api.query<Video>('videos.get', { id: video.id })).data.status).toBe('processing');

    const beat = await api.mutate<ProcessingJob>('jobs.heartbeat', {
      id: claimed!.id,
      leaseToken: claimed!.leaseToken,
      leaseSeconds: 600,
    });
    expect(beat.data.leaseExpiresAt!.getTime()).toBeGreaterThan(claimed!.leaseExpiresAt!.getTime());
    // Without a length, a renewal gives the claim's default of five minutes.
    const sentAt = Date.now();
    const byDefault = await api.mutate<ProcessingJob>('jobs.heartbeat', {
      id: claimed!.id,
      leaseToken: claimed!.leaseToken,
    });
    const left = byDefault.data.leaseExpiresAt!.getTime() - sentAt;
    expect(left).toBeGreaterThan(295_000);
    expect(left).toBeLessThanOrEqual(305_000);

    const done = await api.mutate<ProcessingJob>('jobs.complete', {
      id: claimed!.id,
      leaseToken: claimed!.leaseToken,
      result: { words: 42 },
    });
    expect(done.data).toMatchObject({ status: 'completed', result: { words: 42 }, leaseExpiresAt: null });
    expect(done.data).not.toHaveProperty('leaseToken');
    const after = await api.query<Video>('videos.get', { id: video.id });
    expect(after.data.status).toBe('completed');
    expect(after.data.processedAt).toBeInstanceOf(Date);
    const progress = await api.query<SessionProgress>('sessions.progress', { id: session.id });
    expect(progress.data).toMatchObject({ total: 1, completed: 1, percentDone: 100, processedVideos: 1 });

    const again = await api.mutate('jobs.complete', {
      id: claimed!.id,
      leaseToken: claimed!.leaseToken,
      result: { words: 1 },
    });
    expect(again.status).toBe(409);
  });

  it('sets a channel’s last check when its discovery job completes', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const channel = await channelFactory.create();
    await api.mutate('jobs.enqueue', {
      jobType: 'channel_discovery',
      entityType: 'channel',
      entityId: channel.id,
      sessionId: session.id,
      priority: 1_000_000,
    });
    const [claimed] = await claimOne(session.id);
    await api.mutate('jobs.complete', { id: claimed!.id, leaseToken: claimed!.leaseToken });
    const { data } = await api.query<{ lastCheckedAt: Date | null }>('channels.get', { id: channel.id });
    expect(data.lastCheckedAt).toBeInstanceOf(Date);
  });

  it('completes claimed jobs together, counting each on its session and moving each video', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const videos = await videoFactory.createList(3);
    await api.mutate('jobs.enqueueMany', {
      jobs: videos.map((video) => ({
        jobType: 'transcript_extraction',
        entityType: 'video',
        entityId: video.id,
        sessionId: session.id,
        priority: 1_000_000,
      })),
    });
    const claimed = await claimOne(session.id);
    expect(claimed).toHaveLength(3);
    const done = await api.mutate<CompleteJobsResult>('jobs.completeMany', {
      jobs: claimed.map((job, index) => ({
        id: job.id,
        leaseToken: job.leaseToken,
        result: { part: index },
      })),
    });
    expect(done.status).toBe(200);
    expect(done.data.rejected).toEqual([]);
    const stored = await Promise.all(
      claimed.map(async (job) => (await api.query<ProcessingJob>('jobs.get', { id: job.id })).data),
    );
    expect(stored.map((job) => [job.status, job.result])).toEqual(
      claimed.map((_, index) => ['completed', { part: index }]),
    );
    // Each completed job by its id and when it was recorded, and nothing more.
    expect(done.data.completed).toEqual(stored.map((job) => ({ id: job.id, completedAt: job.completedAt })));
    expect(done.data.completed.every((job) => job.completedAt instanceof Date)).toBe(true);
    for (const video of videos)
      expect((await api.query<Video>('videos.get', { id: video.id })).data.status).toBe('completed');
    const progress = await api.query<SessionProgress>('sessions.progress', { id: session.id });
    expect(progress.data).toMatchObject({ total: 3, completed: 3, processedVideos: 3 });
  });

  it('completes the jobs whose lease still holds and rejects the others, each with its reason', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const jobs = await processingJobFactory.createList(3, { sessionId: session.id, priority: 1_000_000 });
    const [held, lost, cancelled] = (await claimOne(session.id)).sort(
      (a, b) => jobs.findIndex((job) => job.id === a.id) - jobs.findIndex((job) => job.id === b.id),
    );
    await api.mutate('jobs.cancel', { id: cancelled!.id });
    const missing = '00000000-0000-4000-8000-00000000000a';
    const done = await api.mutate<CompleteJobsResult>('jobs.completeMany', {
      jobs: [
        { id: held!.id, leaseToken: held!.leaseToken },
        { id: lost!.id, leaseToken: cancelled!.leaseToken },
        { id: cancelled!.id, leaseToken: cancelled!.leaseToken },
        { id: missing, leaseToken: held!.leaseToken },
      ],
    });
    expect(done.data.completed.map((job) => job.id)).toEqual([held!.id]);
    expect(done.data.rejected).toEqual([
      { id: lost!.id, reason: 'the lease is no longer yours: the job was claimed again' },
      { id: cancelled!.id, reason: 'the job is cancelled' },
      { id: missing, reason: `job ${missing} not found` },
    ]);
    const progress = await api.query<SessionProgress>('sessions.progress', { id: session.id });
    expect(progress.data).toMatchObject({ processedVideos: 1 });
  });

  it('rejects an empty batch, one over 100 jobs, and one naming a job twice, pointing at jobs', async () => {
    const job = {
      id: '00000000-0000-4000-8000-00000000000b',
      leaseToken: '00000000-0000-4000-8000-00000000000c',
    };
    for (const jobs of [[], Array.from({ length: 101 }, () => job), [job, job]]) {
      const response = await api.mutate('jobs.completeMany', { jobs });
      expect(response.status).toBe(400);
      const paths = response.error?.data.issues?.map((issue) => issue.path) ?? [];
      expect(paths.length).toBeGreaterThan(0);
      expect(paths).toEqual(paths.map(() => ['jobs']));
    }
  });

  it('schedules a retry on failure, fails for good when attempts run out, and re-queues by hand', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const video = await videoFactory.create();
    const job = await api.mutate<ProcessingJob>('jobs.enqueue', {
      jobType: 'transcript_extraction',
      entityType: 'video',
      entityId: video.id,
      sessionId: session.id,
      maxAttempts: 1,
      priority: 1_000_000,
    });
    const [claimed] = await claimOne(session.id);
    const failed = await api.mutate<ProcessingJob>('jobs.fail', {
      id: job.data.id,
      leaseToken: claimed!.leaseToken,
      error: 'timed out',
    });
    expect(failed.data).toMatchObject({ status: 'failed', errorMessage: 'timed out' });
    expect((await api.query<Video>('videos.get', { id: video.id })).data).toMatchObject({
      status: 'failed',
      errorMessage: 'timed out',
    });

    const retried = await api.mutate<ProcessingJob>('jobs.retry', { id: job.data.id });
    expect(retried.data).toMatchObject({ status: 'queued', attempts: 0 });
    expect((await api.query<Video>('videos.get', { id: video.id })).data.status).toBe('queued');
    expect((await api.mutate('jobs.retry', { id: job.data.id })).status).toBe(409);
  });

  it('cancels queued and running jobs, rejects a finished one, and rejects the worker afterwards', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const queued = await processingJobFactory.create({ sessionId: session.id });
    expect((await api.mutate<ProcessingJob>('jobs.cancel', { id: queued.id })).data.status).toBe('cancelled');
    expect((await api.mutate('jobs.cancel', { id: queued.id })).status).toBe(409);

    const running = await processingJobFactory.create({ sessionId: session.id, priority: 1_000_000 });
    const [claimed] = await claimOne(session.id);
    expect(claimed!.id).toBe(running.id);
    await api.mutate('jobs.cancel', { id: running.id });
    const late = await api.mutate('jobs.complete', { id: running.id, leaseToken: claimed!.leaseToken });
    expect(late.status).toBe(409);
    expect(late.error?.data.field).toBe('leaseToken');
  });

  it('finds the channel or video a job is about', async () => {
    const job = await processingJobFactory.trait('discovery').create();
    const entity = await api.query<JobEntity>('jobs.entity', { id: job.id });
    expect(entity.data).toMatchObject({ entityType: 'channel', channel: { id: job.entityId } });
    const withRelations = await api.query<JobWithRelations>('jobs.get', {
      id: job.id,
      include: ['channel', 'video', 'session'],
    });
    expect(withRelations.data.channel?.id).toBe(job.entityId);
    expect(withRelations.data.video).toBeNull();
  });

  it('lists jobs by session, status and type, and a session’s jobs page by page', async () => {
    const session = await processingSessionFactory.transient({ jobs: 5 }).create();
    const byFilter = await api.query<Page<ProcessingJob>>('jobs.list', {
      sessionId: session.id,
      status: 'queued',
      jobType: 'transcript_extraction',
      limit: 3,
    });
    expect(byFilter.data.items).toHaveLength(3);
    const next = await api.query<Page<ProcessingJob>>('sessions.jobs', {
      sessionId: session.id,
      limit: 3,
      cursor: byFilter.data.nextCursor,
    });
    expect(next.data.items).toHaveLength(2);
    expect(next.data.nextCursor).toBeNull();
    const missing = await api.query('sessions.jobs', { sessionId: '00000000-0000-4000-8000-000000000005' });
    expect(missing.status).toBe(404);
  });
});

describe('sessions API', () => {
  it('moves a session through its legal transitions and rejects the rest', async () => {
    const created = await api.mutate<ProcessingSession>('sessions.create', {
      sessionName: 'Backfill',
      sessionType: 'bulk_processing',
    });
    expect(created.data.status).toBe('pending');
    expect((await api.mutate('sessions.pause', { id: created.data.id })).status).toBe(409);
    const started = await api.mutate<ProcessingSession>('sessions.start', { id: created.data.id });
    expect(started.data.status).toBe('running');
    expect(started.data.startedAt).toBeInstanceOf(Date);
    expect((await api.mutate<ProcessingSession>('sessions.pause', { id: created.data.id })).data.status).toBe(
      'paused',
    );
    expect(
      (await api.mutate<ProcessingSession>('sessions.resume', { id: created.data.id })).data.status,
    ).toBe('running');
    const completed = await api.mutate<ProcessingSession>('sessions.complete', { id: created.data.id });
    expect(completed.data.completedAt).toBeInstanceOf(Date);
    const rejected = await api.mutate('sessions.start', { id: created.data.id });
    expect(rejected.status).toBe(409);
    expect((await api.query<ProcessingSession>('sessions.get', { id: created.data.id })).data.status).toBe(
      'completed',
    );
  });

  it('rejects lifecycle fields on create and update', async () => {
    const response = await api.mutate('sessions.create', {
      sessionName: 'x',
      sessionType: 'manual',
      status: 'completed',
    });
    expect(response.status).toBe(400);
    const session = await processingSessionFactory.create();
    const renamed = await api.mutate<ProcessingSession>('sessions.update', {
      id: session.id,
      sessionName: 'Renamed',
    });
    expect(renamed.data.sessionName).toBe('Renamed');
  });

  it('reports progress equal to the counts of its jobs', async () => {
    const session = await processingSessionFactory.trait('running').transient({ jobs: 4 }).create();
    await processingJobFactory.trait('exhausted').create({ sessionId: session.id });
    await processingJobFactory.trait('cancelled').create({ sessionId: session.id });
    const progress = await api.query<SessionProgress>('sessions.progress', { id: session.id });
    expect(progress.data).toMatchObject({
      total: 6,
      queued: 4,
      running: 0,
      completed: 0,
      failed: 1,
      cancelled: 1,
      percentDone: 33.33,
    });
    const { rows } = await testDatabase().db.raw(
      'SELECT count(*)::int AS n FROM processing_jobs WHERE session_id = ?',
      [session.id],
    );
    expect(rows[0].n).toBe(progress.data.total);
  });

  it('lists sessions by status and type, and keeps jobs when a session is deleted', async () => {
    const session = await processingSessionFactory.trait('paused').transient({ jobs: 1 }).create();
    const otherType = await processingSessionFactory.trait('paused').create({ sessionType: 'manual' });
    const otherStatus = await processingSessionFactory
      .trait('running')
      .create({ sessionType: 'bulk_processing' });
    const page = await api.query<Page<ProcessingSession>>('sessions.list', {
      status: 'paused',
      sessionType: 'bulk_processing',
      limit: 100,
    });
    const listed = page.data.items.map((s) => s.id);
    expect(listed).toContain(session.id);
    expect(listed).not.toContain(otherType.id);
    expect(listed).not.toContain(otherStatus.id);
    expect(page.data.items.every((s) => s.status === 'paused' && s.sessionType === 'bulk_processing')).toBe(
      true,
    );
    await api.mutate('sessions.delete', { id: session.id });
    const job = await api.query<ProcessingJob>('jobs.get', { id: session.jobs![0]!.id });
    expect(job.data.sessionId).toBeNull();
  });
});
