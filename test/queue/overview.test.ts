import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { channelFactory, processingSessionFactory, videoFactory } from '../../dev/factories';
import { readOverview } from '../../src/queue/overview';
import { claimJobsInput, failJobInput, jobStatuses, jobTypes } from '../../src/schemas/processing-job';
import { throughputMinutes } from '../../src/schemas/queue-overview';
import { cancelJob, claimJobs, completeJob, enqueueJobs, failJob } from '../../src/queue/job-queue';
import { transitionSession } from '../../src/services/processing-sessions';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;
const readerToken = 'reader-token-0123456789';
const api = useApi({ tokens: [{ role: 'reader', token: readerToken }] });

// Claims take any runnable job of the database: each test starts from an empty queue.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

const enqueueVideos = async (count: number, sessionId: string | null = null) =>
  enqueueJobs(
    db(),
    (await videoFactory.createList(count)).map((video) => ({
      jobType: 'transcript_extraction' as const,
      entityType: 'video' as const,
      entityId: video.id,
      sessionId,
    })),
  );
const claim = (workerId: string, limit: number) =>
  claimJobs(db(), claimJobsInput.parse({ workerId, limit, leaseSeconds: 60 }));

describe('the queue overview', () => {
  it('counts every type in every status, shows the oldest due job no pause holds, and who works', async () => {
    const [channel] = await channelFactory.createList(1);
    await enqueueJobs(db(), [{ jobType: 'channel_discovery', entityType: 'channel', entityId: channel!.id }]);
    await enqueueVideos(4);
    const [completed, failed] = await claim('worker-a', 2);
    const [running] = await claim('worker-b', 1);
    await completeJob(db(), { id: completed!.id, leaseToken: completed!.leaseToken, result: null });
    await failJob(
      db(),
      failJobInput.parse({ id: failed!.id, leaseToken: failed!.leaseToken, error: 'gone', retryable: false }),
    );
    const [dueFirst, dueLater] = await enqueueVideos(2);
    await db()('processing_jobs')
      .where('id', dueFirst!.id)
      .update({ run_after: db().raw("now() - interval '10 minutes'") });
    const paused = await processingSessionFactory.trait('running').create();
    const [held] = await enqueueVideos(1, paused.id);
    await db()('processing_jobs')
      .where('id', held!.id)
      .update({ run_after: db().raw("now() - interval '1 hour'") });
    await transitionSession(db(), paused.id, 'pause');
    await cancelJob(db(), dueLater!.id);

    const overview = await readOverview(db());
    expect(overview.counts).toHaveLength(jobTypes.length * jobStatuses.length);
    const jobs = (jobType: string, status: string) =>
      overview.counts.find((row) => row.jobType === jobType && row.status === status)?.jobs;
    const all = await db()('processing_jobs').select('job_type', 'status');
    for (const { jobType, status } of overview.counts)
      expect(jobs(jobType, status), `${jobType}/${status}`).toBe(
        all.filter((row) => row.job_type === jobType && row.status === status).length,
      );
    expect(overview.oldestDue?.id).toBe(dueFirst!.id);
    // worker-a finished its jobs after worker-b claimed: seen last, so listed first (a tie goes by name too).
    expect(overview.workers.map((row) => [row.workerId, row.running, row.finishedLastHour])).toEqual([
      ['worker-a', 0, 2],
      ['worker-b', 1, 0],
    ]);
    expect(running!.lockedBy).toBe('worker-b');
  });

  it('lists each of the last hour’s minutes once, oldest first, with the jobs that finished in it', async () => {
    await enqueueVideos(3);
    const [done, failed, cancelled] = await claim('w', 3);
    await completeJob(db(), { id: done!.id, leaseToken: done!.leaseToken, result: null });
    await failJob(
      db(),
      failJobInput.parse({ id: failed!.id, leaseToken: failed!.leaseToken, error: 'x', retryable: false }),
    );
    await cancelJob(db(), cancelled!.id);
    const overview = await readOverview(db());
    expect(overview.throughput).toHaveLength(throughputMinutes);
    const minutes = overview.throughput.map((row) => row.minute.getTime());
    expect(minutes).toEqual([...minutes].sort((a, b) => a - b));
    expect(minutes.at(-1)! - minutes[0]!).toBe((throughputMinutes - 1) * 60_000);
    expect(overview.at.getTime() - minutes.at(-1)!).toBeLessThan(60_000);
    const finishedAt = await db()('processing_jobs')
      .whereIn('id', [done!.id, failed!.id, cancelled!.id])
      .pluck('completed_at');
    const expected = { completed: 0, failed: 0, cancelled: 0 };
    for (const row of overview.throughput) {
      expected.completed += row.completed;
      expected.failed += row.failed;
      expected.cancelled += row.cancelled;
    }
    expect(expected).toEqual({ completed: 1, failed: 1, cancelled: 1 });
    for (const at of finishedAt as Date[]) {
      const bucket = overview.throughput.find(
        (row) => row.minute.getTime() <= at.getTime() && at.getTime() < row.minute.getTime() + 60_000,
      );
      expect(bucket!.completed + bucket!.failed + bucket!.cancelled).toBeGreaterThan(0);
    }
  });

  it('shows no oldest due job while every queued job waits for a later time', async () => {
    const [later] = await enqueueVideos(1);
    await db()('processing_jobs')
      .where('id', later!.id)
      .update({ run_after: db().raw("now() + interval '10 minutes'") });
    expect((await readOverview(db())).oldestDue).toBeNull();
  });

  it('lists a worker by the jobs it finished in the last hour only, and not by jobs an admin cancelled', async () => {
    await enqueueVideos(3);
    const [earlier] = await claim('worker-earlier', 1);
    const [cancelled] = await claim('worker-cancelled', 1);
    const [recent] = await claim('worker-recent', 1);
    for (const job of [earlier!, recent!])
      await completeJob(db(), { id: job.id, leaseToken: job.leaseToken, result: null });
    await db()('processing_jobs')
      .where('id', earlier!.id)
      .update({ completed_at: db().raw("now() - interval '61 minutes'") });
    await cancelJob(db(), cancelled!.id);
    expect((await readOverview(db())).workers.map((row) => [row.workerId, row.finishedLastHour])).toEqual([
      ['worker-recent', 1],
    ]);
  });

  it('lists 200 workers at most', async () => {
    // One running job per worker, written by one statement, each of its own worker.
    const running = (from: number, to: number) =>
      db().raw(
        `INSERT INTO processing_jobs (job_type, entity_type, entity_id, status, attempts, locked_by, lease_token,
                                      lease_expires_at)
         SELECT 'transcript_extraction', 'video', gen_random_uuid(), 'running', 1, 'worker-' || i,
                gen_random_uuid(), now() + interval '1 hour'
           FROM generate_series(?::int, ?::int) AS i`,
        [from, to],
      );
    await running(1, 200);
    expect((await readOverview(db())).workers).toHaveLength(200);
    await running(201, 201);
    expect((await readOverview(db())).workers).toHaveLength(200);
  });

  it('is read by a reader over REST, and shows no lease token', async () => {
    await enqueueVideos(1);
    const [running] = await claim('worker-c', 1);
    const response = await request(api.app.server)
      .get('/api/jobs/overview')
      .set({ authorization: `Bearer ${readerToken}` });
    expect(response.status).toBe(200);
    expect(response.body.workers).toEqual([
      { workerId: 'worker-c', running: 1, finishedLastHour: 0, lastSeenAt: expect.any(String) },
    ]);
    expect(JSON.stringify(response.body)).not.toContain(running!.leaseToken);
  });
});
