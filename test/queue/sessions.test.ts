import type { Knex } from 'knex';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect';
import { toColumns } from '../../src/models/columns';
import { processingSessionFactory, videoFactory } from '../../dev/factories';
import { claimJobsInput, type ProcessingJob } from '../../src/schemas/processing-job';
import { ConflictError } from '../../src/services/errors';
import {
  claimJobs,
  completeJob,
  enqueueJobs,
  failJob,
  heartbeat,
  releaseJob,
  retryJob,
} from '../../src/queue/job-queue';
import { sessionProgress, transitionSession } from '../../src/services/processing-sessions';
import { useApi } from '../support/api';
import { testDatabase, testPoolSettings } from '../support/database';

const db = () => testDatabase().db;
const api = useApi();

// Claims take any runnable job of the database: each test starts from an empty queue.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

/** A running session with `count` queued transcript jobs, one per new video. */
async function sessionWithJobs(count: number) {
  const session = await processingSessionFactory.trait('running').create();
  const videos = await videoFactory.createList(count);
  const jobs = await enqueueJobs(
    db(),
    videos.map((video) => ({
      jobType: 'transcript_extraction',
      entityType: 'video',
      entityId: video.id,
      sessionId: session.id,
    })),
  );
  return { session, jobs, videos };
}

const claimAll = (limit = 100) =>
  claimJobs(db(), claimJobsInput.parse({ workerId: 'w', limit, leaseSeconds: 60 }));
const ids = (jobs: readonly { id: string }[]) => jobs.map((job) => job.id).sort();
const jobsOf = (sessionId: string) =>
  db()('processing_jobs').where('session_id', sessionId).orderBy('id').select('id', 'status', 'held');
const videoStatuses = async (videoIds: string[]) =>
  (await db()('videos').whereIn('id', videoIds).pluck('status')).sort();

describe('a paused session', () => {
  it('keeps its queued jobs from every claim, and resuming makes them claimable at once', async () => {
    const { session, jobs } = await sessionWithJobs(3);
    await transitionSession(db(), session.id, 'pause');
    expect(await claimAll()).toEqual([]);
    await transitionSession(db(), session.id, 'resume');
    expect(ids(await claimAll())).toEqual(ids(jobs));
  });

  it('lets its running jobs heartbeat and complete normally', async () => {
    const { session } = await sessionWithJobs(2);
    const [first, second] = await claimAll(2);
    await transitionSession(db(), session.id, 'pause');
    await heartbeat(db(), { id: first!.id, leaseToken: first!.leaseToken!, leaseSeconds: 60 });
    expect(
      await completeJob(db(), { id: first!.id, leaseToken: first!.leaseToken!, result: null }),
    ).toMatchObject({
      status: 'completed',
      held: false,
    });
    // A retryable failure goes back to the queue, held until the session resumes.
    const retried = await failJob(db(), {
      id: second!.id,
      leaseToken: second!.leaseToken!,
      error: 'x',
      retryable: true,
    });
    expect(retried).toMatchObject({ status: 'queued', held: true });
    await db()('processing_jobs')
      .where({ id: second!.id })
      .update({ run_after: new Date(Date.now() - 1_000) });
    expect(await claimAll()).toEqual([]);
    await transitionSession(db(), session.id, 'resume');
    expect(ids(await claimAll())).toEqual([second!.id]);
  });

  it('does not hand its expired leases to another worker until it resumes', async () => {
    const { session, jobs } = await sessionWithJobs(1);
    await claimAll();
    await transitionSession(db(), session.id, 'pause');
    await db()('processing_jobs')
      .where({ id: jobs[0]!.id })
      .update({ lease_expires_at: new Date(Date.now() - 1) });
    expect(await claimAll()).toEqual([]);
    await transitionSession(db(), session.id, 'resume');
    expect(await claimAll()).toMatchObject([{ id: jobs[0]!.id, attempts: 2 }]);
  });

  it('holds a job enqueued, released or retried into it while it is paused', async () => {
    const { session, jobs } = await sessionWithJobs(2);
    const [claimed] = await claimAll(1);
    await transitionSession(db(), session.id, 'pause');
    await releaseJob(db(), { id: claimed!.id, leaseToken: claimed!.leaseToken! });
    const [late] = await enqueueJobs(db(), [
      {
        jobType: 'transcript_extraction',
        entityType: 'video',
        entityId: (await videoFactory.create()).id,
        sessionId: session.id,
      },
    ]);
    expect(late).toMatchObject({ status: 'queued', held: true });
    expect(await claimAll()).toEqual([]);
    await transitionSession(db(), session.id, 'resume');
    expect(ids(await claimAll())).toEqual(ids([...jobs, late!]));
    expect((await jobsOf(session.id)).every((job) => !job.held)).toBe(true);
  });

  it('gives a held job back to the queue when its session is deleted or it is moved out of it', async () => {
    const paused = await sessionWithJobs(2);
    await transitionSession(db(), paused.session.id, 'pause');
    await api.mutate('jobs.update', { id: paused.jobs[0]!.id, sessionId: null });
    expect(ids(await claimAll())).toEqual([paused.jobs[0]!.id]);
    await api.mutate('sessions.delete', { id: paused.session.id });
    expect(ids(await claimAll())).toEqual([paused.jobs[1]!.id]);
  });
});

describe('a finished session', () => {
  for (const move of ['complete', 'fail'] as const) {
    it(`lets go of the running job it held while paused when it is made to ${move}, and cancels the queued one`, async () => {
      const { session, jobs } = await sessionWithJobs(2);
      const [running] = await claimAll(1);
      const queued = jobs.find((job) => job.id !== running!.id)!;
      await transitionSession(db(), session.id, 'pause');
      expect(await jobsOf(session.id)).toContainEqual({ id: running!.id, status: 'running', held: true });
      await transitionSession(db(), session.id, move);
      expect(await jobsOf(session.id)).toEqual(
        [
          { id: running!.id, status: 'running', held: false },
          { id: queued.id, status: 'cancelled', held: false },
        ].sort((a, b) => (a.id < b.id ? -1 : 1)),
      );
    });
  }

  for (const move of ['complete', 'fail'] as const) {
    it(`cancels its queued jobs when it is made to ${move}, lets its running ones finish, and gives their videos back`, async () => {
      const { session, jobs, videos } = await sessionWithJobs(3);
      const [running] = await claimAll(1);
      await transitionSession(db(), session.id, move);
      const after = await jobsOf(session.id);
      expect(after.filter((job) => job.status === 'cancelled').map((job) => job.id)).toEqual(
        ids(jobs.filter((job) => job.id !== running!.id)),
      );
      expect(await claimAll()).toEqual([]);
      expect(
        await completeJob(db(), { id: running!.id, leaseToken: running!.leaseToken!, result: null }),
      ).toMatchObject({
        status: 'completed',
      });
      expect(await videoStatuses(videos.map((video) => video.id))).toEqual([
        'completed',
        'discovered',
        'discovered',
      ]);
      expect(await sessionProgress(db(), session.id)).toMatchObject({
        total: 3,
        completed: 1,
        cancelled: 2,
        queued: 0,
      });
    });
  }

  for (const move of ['complete', 'fail'] as const) {
    it(`cancels a retry of its running job instead of queueing it once made to ${move}, and rejects a new job naming sessionId`, async () => {
      const { session, videos } = await sessionWithJobs(1);
      const [running] = await claimAll(1);
      await transitionSession(db(), session.id, move);
      expect(
        await failJob(db(), {
          id: running!.id,
          leaseToken: running!.leaseToken!,
          error: 'x',
          retryable: true,
        }),
      ).toMatchObject({ status: 'cancelled' });
      expect(await videoStatuses([videos[0]!.id])).toEqual(['discovered']);
      await expect(retryJob(db(), running!.id)).rejects.toBeInstanceOf(ConflictError);

      const rejected = await api.mutate('jobs.enqueue', {
        jobType: 'transcript_extraction',
        entityType: 'video',
        entityId: videos[0]!.id,
        sessionId: session.id,
      });
      expect(rejected.status).toBe(409);
      expect(rejected.error?.data).toMatchObject({ code: 'CONFLICT', field: 'sessionId' });
      expect(rejected.error?.message).toBe('the session is finished and takes no new jobs');
      expect(await jobsOf(session.id)).toHaveLength(1);
    });
  }

  it('cancels a queued job moved into it, and gives the job’s video back', async () => {
    const finished = await processingSessionFactory.trait('running').create();
    await transitionSession(db(), finished.id, 'complete');
    const { jobs, videos } = await sessionWithJobs(1);

    const moved = await api.mutate('jobs.update', { id: jobs[0]!.id, sessionId: finished.id });
    expect(moved.status).toBe(200);
    expect(moved.data).toMatchObject({ status: 'cancelled', sessionId: finished.id });
    expect(await videoStatuses([videos[0]!.id])).toEqual(['discovered']);
  });
});

describe('a pause racing claims', () => {
  const claimers = 8;
  let pool: Knex;

  // One connection per claimer, so the claims and the pause really run side by side.
  beforeAll(() => {
    pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: claimers + 4 });
  });
  afterAll(() => pool.destroy());

  it('leaves no claim that starts after the pause commits with one of the session’s jobs', async () => {
    for (let round = 0; round < 5; round += 1) {
      await db()('processing_jobs').delete();
      const { session, jobs } = await sessionWithJobs(400);
      const ofSession = new Set(jobs.map((job) => job.id));
      let pausedAt = Number.POSITIVE_INFINITY;
      const late: ProcessingJob[] = [];
      let underWay = 0;
      let allUnderWay: () => void = () => undefined;
      const everyClaimerUnderWay = new Promise<void>((resolve) => (allUnderWay = resolve));
      let stop = false;
      const claimer = async () => {
        let first = true;
        while (!stop) {
          const startedAt = performance.now();
          const claimed = await claimJobs(
            pool,
            claimJobsInput.parse({ workerId: 'racer', limit: 2, leaseSeconds: 60 }),
          );
          if (startedAt > pausedAt) late.push(...claimed.filter((job) => ofSession.has(job.id)));
          if (first && (underWay += 1) === claimers) allUnderWay();
          first = false;
          if (claimed.length === 0 && startedAt > pausedAt) return;
        }
      };
      const running = Array.from({ length: claimers }, claimer);
      // Every claimer under way, so that claims are in flight as the pause commits, in every round.
      await everyClaimerUnderWay;
      await new Promise((resolve) => setTimeout(resolve, round * 2));
      await transitionSession(pool, session.id, 'pause');
      pausedAt = performance.now();
      const settled = Promise.all(running);
      setTimeout(() => (stop = true), 2_000).unref();
      await settled;

      expect(late).toEqual([]);
      const left = await jobsOf(session.id);
      const queued = left.filter((job) => job.status === 'queued');
      expect(queued.length, `round ${round}: some jobs are left to hold`).toBeGreaterThan(0);
      expect(
        left.filter((job) => job.status === 'queued' || job.status === 'running').every((job) => job.held),
      ).toBe(true);
    }
  });
});

describe('a pause meeting a job that enters its queue', () => {
  let pool: Knex;

  // Connections of its own, so one transaction can stay open while another one runs.
  beforeAll(() => {
    pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: 4 });
  });
  afterAll(() => pool.destroy());

  /** Whether, within two seconds, a statement of this database on `table` waits for a row lock. */
  const someoneWaitsOn = async (table: string) => {
    for (let tries = 0; tries < 100; tries += 1) {
      const waiting = await db()('pg_stat_activity')
        .where({ datname: db().raw('current_database()'), wait_event_type: 'Lock' })
        .whereILike('query', `%${table}%`)
        .count<{ count: string }[]>('* as count');
      if (Number(waiting[0]!.count) > 0) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return false;
  };

  const transcriptJob = (videoId: string, sessionId: string) => ({
    jobType: 'transcript_extraction' as const,
    entityType: 'video' as const,
    entityId: videoId,
    sessionId,
  });

  it('waits for a job being enqueued into the session to commit, and then holds it too', async () => {
    const { session } = await sessionWithJobs(1);
    const video = await videoFactory.create();
    const enqueuing = await pool.transaction();
    await enqueuing('processing_jobs').insert(toColumns(transcriptJob(video.id, session.id)));
    const pausing = transitionSession(pool, session.id, 'pause');
    expect(await someoneWaitsOn('processing_sessions')).toBe(true);
    await enqueuing.commit();
    await pausing;

    const jobs = await jobsOf(session.id);
    expect(jobs.map((job) => [job.status, job.held])).toEqual([
      ['queued', true],
      ['queued', true],
    ]);
  });

  it('holds a job enqueued while the pause is committing', async () => {
    const { session } = await sessionWithJobs(1);
    const video = await videoFactory.create();
    const pausing = await pool.transaction();
    await pausing('processing_sessions').where('id', session.id).forUpdate().select('id');
    await pausing('processing_sessions').where('id', session.id).update({ status: 'paused' });
    const enqueued = enqueueJobs(pool, [transcriptJob(video.id, session.id)]);
    expect(await someoneWaitsOn('enqueue_jobs')).toBe(true);
    await pausing.commit();
    const [job] = await enqueued;

    expect((await db()('processing_jobs').where('id', job!.id).first('held')).held).toBe(true);
  });
});
