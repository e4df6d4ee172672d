import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect';
import { channelFactory, processingSessionFactory, videoFactory } from '../../dev/factories';
import { changeBulk, previewBulk } from '../../src/queue/bulk';
import {
  type BulkAction,
  type BulkChangeResult,
  bulkCancelInput,
  bulkPreviewInput,
  bulkRetryInput,
  maxBulkLimit,
} from '../../src/schemas/job-bulk';
import {
  type ClaimedJob,
  claimJobsInput,
  failJobInput,
  type JobType,
  type ProcessingJob,
  videoStatusForJob,
} from '../../src/schemas/processing-job';
import { transientRetries } from '../../src/services/database-errors';
import { ConflictError } from '../../src/services/errors';
import {
  claimJobs,
  completeJob,
  completeJobs,
  enqueueJobs,
  failJob,
  retryJob,
} from '../../src/queue/job-queue';
import { getJob } from '../../src/services/processing-jobs';
import { sessionProgress, transitionSession } from '../../src/services/processing-sessions';
import { useApi } from '../support/api';
import { testDatabase, testPoolSettings } from '../support/database';
import { lockWaits, waitsForLock } from '../support/lock-waits';
import { until } from '../support/until';

const db = () => testDatabase().db;
const tokens = { admin: 'admin-token-0123456789', reader: 'reader-token-0123456789' } as const;
const api = useApi({
  tokens: [
    { role: 'admin', token: tokens.admin },
    { role: 'reader', token: tokens.reader },
  ],
});
const bearer = (role: keyof typeof tokens) => ({ authorization: `Bearer ${tokens[role]}` });

// Claims take any runnable job of the database: each test starts from an empty queue.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

const preview = (action: BulkAction, filter: Record<string, unknown> = {}) =>
  previewBulk(db(), bulkPreviewInput.parse({ action, ...filter }));
const retry = (filter: Record<string, unknown> = {}) =>
  changeBulk(db(), 'retry', bulkRetryInput.parse(filter));
const cancel = (filter: Record<string, unknown> = {}) =>
  changeBulk(db(), 'cancel', bulkCancelInput.parse(filter));
const claimAll = (workerId = 'w') =>
  claimJobs(db(), claimJobsInput.parse({ workerId, limit: 100, leaseSeconds: 60 }));
const statusOf = async (ids: readonly string[]) =>
  Object.fromEntries(
    (await db()('processing_jobs').whereIn('id', ids).select('id', 'status')).map((row) => [
      row.id,
      row.status,
    ]),
  );

/** `count` new jobs of a type, each about a new channel or video, queued through the queue as a client would. */
async function queuedJobs(
  count: number,
  options: { jobType?: JobType; sessionId?: string } = {},
): Promise<ProcessingJob[]> {
  const jobType = options.jobType ?? 'transcript_extraction';
  const entities =
    jobType === 'channel_discovery'
      ? await channelFactory.createList(count)
      : await videoFactory.createList(count);
  return enqueueJobs(
    db(),
    entities.map((entity) => ({
      jobType,
      entityType: jobType === 'channel_discovery' ? 'channel' : 'video',
      entityId: entity.id,
      sessionId: options.sessionId ?? null,
    })),
  );
}

/** `count` jobs claimed and failed for good by a worker with `error`, as a run of them would be. */
async function failedJobs(
  count: number,
  options: { jobType?: JobType; sessionId?: string; error?: string } = {},
): Promise<ProcessingJob[]> {
  const queued = await queuedJobs(count, options);
  const claimed = await claimAll();
  expect(claimed).toHaveLength(count);
  for (const job of claimed) {
    await failJob(
      db(),
      failJobInput.parse({
        id: job.id,
        leaseToken: job.leaseToken,
        error: options.error ?? 'Request timed out after 30000 ms',
        retryable: false,
      }),
    );
  }
  return queued;
}

/** Calls `change` from the start of a sweep until it says nothing is left, and the calls' results. */
async function sweep(
  change: (cursor: string | undefined) => Promise<BulkChangeResult>,
): Promise<BulkChangeResult[]> {
  const results: BulkChangeResult[] = [];
  let cursor: string | undefined;
  do {
    const result = await change(cursor);
    results.push(result);
    cursor = result.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return results;
}

/** Waits until a statement of the database's that starts with `statement` waits for a lock another holds. */
const blockedOn = (statement: string) => until(() => waitsForLock(statement));

describe('a bulk preview', () => {
  it('counts exactly the jobs a retry with the same filter then changes, by type, session, error text and creation time', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const older = await failedJobs(2, { sessionId: session.id, error: 'HTTP 429 from YouTube' });
    await db()('processing_jobs')
      .whereIn(
        'id',
        older.map((job) => job.id),
      )
      .update({ created_at: db().raw("created_at - interval '1 hour'") });
    const wanted = await failedJobs(3, { sessionId: session.id, error: 'HTTP 429 from YouTube' });
    const otherError = await failedJobs(2, { sessionId: session.id, error: 'Transcripts are disabled' });
    const otherType = await failedJobs(2, { jobType: 'channel_discovery', error: 'HTTP 429 from YouTube' });
    const filter = {
      jobType: 'transcript_extraction',
      sessionId: session.id,
      errorContains: 'http 429',
      createdAfter: new Date(Date.now() - 30 * 60_000),
    };

    const previewed = await preview('retry', filter);
    expect(previewed).toMatchObject({ count: 3, exact: true });
    expect(previewed.sample.map((job) => job.id).sort()).toEqual(wanted.map((job) => job.id).sort());
    expect(previewed.sample.every((job) => !('leaseToken' in job))).toBe(true);
    expect(await retry(filter)).toEqual({ changed: 3, nextCursor: null });
    expect(Object.values(await statusOf(wanted.map((job) => job.id)))).toEqual([
      'queued',
      'queued',
      'queued',
    ]);
    const untouched = [...older, ...otherError, ...otherType].map((job) => job.id);
    expect(new Set(Object.values(await statusOf(untouched)))).toEqual(new Set(['failed']));
    expect(await preview('retry', filter)).toMatchObject({ count: 0, sample: [] });
  });

  it('narrows by each filter alone: the type, the session, and a creation before a time', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const [inSession] = await failedJobs(1, { sessionId: session.id });
    const [discovery] = await failedJobs(1, { jobType: 'channel_discovery' });
    const [older] = await failedJobs(1);
    await db()('processing_jobs')
      .where('id', older!.id)
      .update({ created_at: db().raw("created_at - interval '2 hours'") });
    const matching = async (filter: Record<string, unknown>) =>
      (await preview('retry', filter)).sample.map((job) => job.id);

    expect(await matching({ jobType: 'channel_discovery' })).toEqual([discovery!.id]);
    expect(await matching({ sessionId: session.id })).toEqual([inSession!.id]);
    expect(await matching({ createdBefore: new Date(Date.now() - 60 * 60_000) })).toEqual([older!.id]);
  });

  it('reads a percent sign or an underscore in the error text as itself, not as a wildcard', async () => {
    const [percent] = await failedJobs(1, { error: 'quota 50% used' });
    await failedJobs(1, { error: 'quota 500 used' });
    const [underscore] = await failedJobs(1, { error: 'field video_id missing' });
    await failedJobs(1, { error: 'field videoXid missing' });
    expect((await preview('retry', { errorContains: '50%' })).sample.map((job) => job.id)).toEqual([
      percent!.id,
    ]);
    expect((await preview('retry', { errorContains: 'o_i' })).sample.map((job) => job.id)).toEqual([
      underscore!.id,
    ]);
  });

  it('shows the newest matching jobs up to the sample size, and none at size 0', async () => {
    // Created a minute apart, the newest with the lowest ids, and rewritten oldest last: neither the ids nor the
    // order the rows were written in give the sample.
    const ids = (await failedJobs(4)).map((job) => job.id).sort();
    for (const [index, id] of [...ids.entries()].reverse()) {
      await db()('processing_jobs')
        .where({ id })
        .update({ created_at: db().raw('now() - make_interval(mins => ?)', [index + 1]) });
    }
    const newest = [ids[0]!, ids[1]!].map((id) => ({ id }));
    const previewed = await preview('retry', { sampleSize: 2 });
    expect(previewed.count).toBe(4);
    expect(previewed.sample.map((job) => job.id)).toEqual(newest.map((job) => job.id));
    expect((await preview('retry', { sampleSize: 0 })).sample).toEqual([]);
  });

  it('shows the newest first even where the plan reads no index, and the higher id first at one creation time', async () => {
    // Written oldest first, so the table's own order is the reverse of the sample's.
    const ids = (await failedJobs(3)).map((job) => job.id);
    for (const [index, id] of ids.entries()) {
      await db()('processing_jobs')
        .where({ id })
        .update({ created_at: db().raw('now() - make_interval(mins => ?)', [10 - index]) });
    }
    const sampled = await db().transaction(async (trx) => {
      await trx.raw('SET LOCAL enable_indexscan = off');
      await trx.raw('SET LOCAL enable_bitmapscan = off');
      await trx.raw('SET LOCAL enable_indexonlyscan = off');
      return previewBulk(trx, bulkPreviewInput.parse({ action: 'retry', sampleSize: 2 }));
    });
    expect(sampled.sample.map((job) => job.id)).toEqual([ids[2], ids[1]]);

    await db()('processing_jobs')
      .whereIn('id', ids)
      .update({ created_at: db().raw('now()') });
    const [higher] = [...ids].sort().reverse();
    expect((await preview('retry', { sampleSize: 1 })).sample.map((job) => job.id)).toEqual([higher]);
  });

  it('takes a job created at the instant createdAfter names, and leaves one created at createdBefore out', async () => {
    const [job] = await failedJobs(1);
    const instant = new Date('2026-11-30T08:00:00.123Z');
    await db()('processing_jobs').where('id', job!.id).update({ created_at: instant });
    expect(await preview('retry', { createdAfter: instant })).toMatchObject({ count: 1 });
    expect(await preview('retry', { createdBefore: instant })).toMatchObject({ count: 0 });
    expect(await preview('retry', { createdBefore: new Date(instant.getTime() + 1) })).toMatchObject({
      count: 1,
    });
  });
});

describe('a bulk retry', () => {
  it(`changes exactly \`limit\` jobs at the edge and leaves one past it to the next call, which ends the sweep`, async () => {
    await failedJobs(5);
    expect(await retry({ limit: 5 })).toEqual({ changed: 5, nextCursor: null });
    await db()('processing_jobs').delete();
    await failedJobs(5);
    const first = await retry({ limit: 4 });
    expect(first.changed).toBe(4);
    expect(first.nextCursor).not.toBeNull();
    expect(await retry({ limit: 4, cursor: first.nextCursor })).toEqual({ changed: 1, nextCursor: null });
    expect(await db()('processing_jobs').where('status', 'failed').pluck('id')).toEqual([]);
  });

  it(`takes a limit of ${maxBulkLimit} and rejects one past it, naming limit, on both transports`, async () => {
    await failedJobs(2);
    const atEdge = await api.mutate<BulkChangeResult>(
      'jobs.bulkRetry',
      { limit: maxBulkLimit },
      bearer('admin'),
    );
    expect(atEdge.data).toEqual({ changed: 2, nextCursor: null });
    const past = await api.mutate('jobs.bulkCancel', { limit: maxBulkLimit + 1 }, bearer('admin'));
    expect(past.status).toBe(400);
    expect(past.error?.data.field).toBe('limit');
    const rest = await request(api.app.server)
      .post('/api/jobs/bulk/retry')
      .set(bearer('admin'))
      .send({ limit: maxBulkLimit + 1 });
    expect(rest.status).toBe(400);
    expect(rest.body).toMatchObject({ code: 'BAD_REQUEST', field: 'limit' });
  });

  it('changes nothing and ends the sweep when no job matches', async () => {
    await failedJobs(1);
    expect(await retry({ jobType: 'channel_discovery' })).toEqual({ changed: 0, nextCursor: null });
  });

  it('does not retry a job twice in one sweep when it fails again after its retry', async () => {
    const jobs = await failedJobs(2);
    const first = await retry({ limit: 1 });
    expect(first.changed).toBe(1);
    const [again] = await claimAll();
    await failJob(
      db(),
      failJobInput.parse({ id: again!.id, leaseToken: again!.leaseToken, error: 'again', retryable: false }),
    );
    expect(await statusOf([again!.id])).toEqual({ [again!.id]: 'failed' });
    expect(await retry({ limit: 1, cursor: first.nextCursor })).toEqual({ changed: 1, nextCursor: null });
    const other = jobs.find((job) => job.id !== again!.id)!;
    expect(await statusOf(jobs.map((job) => job.id))).toEqual({
      [again!.id]: 'failed',
      [other.id]: 'queued',
    });
  });

  it('retries only the latest failed job of an entity with no active job, outside finished sessions', async () => {
    const [older] = await failedJobs(1);
    const [newer] = await enqueueJobs(db(), [
      { jobType: older!.jobType, entityType: older!.entityType, entityId: older!.entityId },
    ]);
    const [claimedNewer] = await claimAll();
    expect(claimedNewer!.id).toBe(newer!.id);
    await failJob(
      db(),
      failJobInput.parse({
        id: newer!.id,
        leaseToken: claimedNewer!.leaseToken,
        error: 'x',
        retryable: false,
      }),
    );
    const [withActive] = await failedJobs(1);
    const session = await processingSessionFactory.trait('running').create();
    const [ofFinishedSession] = await failedJobs(1, { sessionId: session.id });
    await transitionSession(db(), session.id, 'complete');
    // An active job older than the failed one: the failed job is its entity's latest, and still not retried.
    const [active] = await enqueueJobs(db(), [
      { jobType: withActive!.jobType, entityType: withActive!.entityType, entityId: withActive!.entityId },
    ]);
    await db()('processing_jobs')
      .where('id', active!.id)
      .update({ created_at: db().raw("created_at - interval '1 hour'") });

    const previewed = await preview('retry');
    expect(previewed.sample.map((job) => job.id)).toEqual([newer!.id]);
    expect(await retry()).toEqual({ changed: 1, nextCursor: null });
    expect(await statusOf([older!.id, newer!.id, withActive!.id, ofFinishedSession!.id])).toEqual({
      [older!.id]: 'failed',
      [newer!.id]: 'queued',
      [withActive!.id]: 'failed',
      [ofFinishedSession!.id]: 'failed',
    });
  });

  it('moves the videos with their jobs and keeps the session’s counts, as a retry of one job does', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const jobs = await failedJobs(3, { sessionId: session.id });
    const videoIds = jobs.map((job) => job.entityId);
    expect(await db()('videos').whereIn('id', videoIds).pluck('status')).toEqual([
      'failed',
      'failed',
      'failed',
    ]);
    expect(await retry({ sessionId: session.id })).toMatchObject({ changed: 3 });
    expect(await db()('videos').whereIn('id', videoIds).pluck('status')).toEqual([
      'queued',
      'queued',
      'queued',
    ]);
    expect(await sessionProgress(db(), session.id)).toMatchObject({ total: 3, queued: 3, failed: 0 });
  });

  it('runs a batch again when an enqueue commits an active job of one of its entities meanwhile, and skips that one', async () => {
    const jobs = await failedJobs(3);
    const [raced, ...others] = jobs;
    const enqueuer = await db().transaction();
    try {
      await enqueuer.raw(
        `INSERT INTO processing_jobs (job_type, entity_type, entity_id) VALUES ('transcript_extraction', 'video', ?)`,
        [raced!.entityId],
      );
      const retried = retry();
      await blockedOn('update "processing_jobs"');
      await enqueuer.commit();
      expect(await retried).toEqual({ changed: 2, nextCursor: null });
    } finally {
      if (!enqueuer.isCompleted()) await enqueuer.rollback();
    }
    expect(await statusOf(jobs.map((job) => job.id))).toEqual({
      [raced!.id]: 'failed',
      [others[0]!.id]: 'queued',
      [others[1]!.id]: 'queued',
    });
  });

  it('skips a failed job whose entity has an older running job, and one of a failed session', async () => {
    const [retried] = await failedJobs(1);
    const [withRunning] = await failedJobs(1);
    const session = await processingSessionFactory.trait('running').create();
    const [ofFailedSession] = await failedJobs(1, { sessionId: session.id });
    await transitionSession(db(), session.id, 'fail');
    const [running] = await enqueueJobs(db(), [
      { jobType: withRunning!.jobType, entityType: withRunning!.entityType, entityId: withRunning!.entityId },
    ]);
    expect((await claimAll()).map((job) => job.id)).toEqual([running!.id]);
    await db()('processing_jobs')
      .where('id', running!.id)
      .update({ created_at: db().raw("created_at - interval '1 hour'") });

    expect(await retry()).toEqual({ changed: 1, nextCursor: null });
    expect(await statusOf([retried!.id, withRunning!.id, ofFailedSession!.id])).toEqual({
      [retried!.id]: 'queued',
      [withRunning!.id]: 'failed',
      [ofFailedSession!.id]: 'failed',
    });
  });

  it('writes on each job what a retry of one job writes: queued, a fresh set of attempts, due now, no completion time', async () => {
    const [byHand, ...inBulk] = await failedJobs(3);
    const retriedByHand = await retryJob(db(), byHand!.id);
    const startedAt = new Date();
    expect(await retry()).toEqual({ changed: 2, nextCursor: null });
    // Every field but those that name the job and its entity (its rate key too), and the times each job has of its
    // own.
    const fields = ({
      id: _id,
      entityId: _entity,
      rateKey: _key,
      createdAt: _created,
      updatedAt: _updated,
      startedAt: _started,
      lockedAt: _locked,
      runAfter: _due,
      ...rest
    }: ProcessingJob) => rest;
    const rows = await Promise.all(inBulk.map((job) => getJob(db(), job.id)));
    expect(rows.map(fields)).toEqual(inBulk.map(() => fields(retriedByHand)));
    expect(fields(retriedByHand)).toMatchObject({ status: 'queued', attempts: 0, completedAt: null });
    for (const row of rows) expect(row.runAfter.getTime()).toBeLessThanOrEqual(startedAt.getTime() + 1_000);
  });

  it('gives each job a fresh set of attempts, as a retry of one job does', async () => {
    const video = await videoFactory.create();
    const [job] = await enqueueJobs(db(), [
      { jobType: 'transcript_extraction', entityType: 'video', entityId: video.id, maxAttempts: 2 },
    ]);
    const failOnce = async (retryable: boolean) => {
      const [claimed] = await claimAll();
      await failJob(
        db(),
        failJobInput.parse({ id: claimed!.id, leaseToken: claimed!.leaseToken, error: 'flaky', retryable }),
      );
      return claimed!;
    };
    await failOnce(false);
    expect(await retry()).toEqual({ changed: 1, nextCursor: null });
    expect((await failOnce(true)).attempts).toBe(1);
    expect(await statusOf([job!.id])).toEqual({ [job!.id]: 'queued' });
  });

  describe('whose write fails', () => {
    /**
     * Makes the batch's write of jobs fail its first `times` tries with `constraint`'s error, as a commit of
     * another writer would; a sequence counts the tries, since it is not rolled back with them.
     */
    async function failWrites(times: number, error: { code: string; constraint: string }): Promise<void> {
      await db().raw(`
        CREATE SEQUENCE job_write_tries;
        CREATE FUNCTION fail_job_writes() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF nextval('job_write_tries') <= ${times} THEN
            RAISE EXCEPTION 'the write lost to another writer'
              USING ERRCODE = '${error.code}', CONSTRAINT = '${error.constraint}';
          END IF;
          RETURN NULL;
        END $$;
        CREATE TRIGGER fail_job_writes BEFORE UPDATE ON processing_jobs
          FOR EACH STATEMENT EXECUTE FUNCTION fail_job_writes();`);
    }
    const tries = async () =>
      Number((await db().raw('SELECT last_value FROM job_write_tries')).rows[0].last_value);
    const lostToAnEnqueue = { code: '23505', constraint: 'processing_jobs_one_active_per_entity' };

    afterEach(async () => {
      await db().raw(`
        DROP TRIGGER IF EXISTS fail_job_writes ON processing_jobs;
        DROP FUNCTION IF EXISTS fail_job_writes();
        DROP SEQUENCE IF EXISTS job_write_tries;`);
    });

    it('runs the batch again after each of two races lost to an enqueue', async () => {
      await failedJobs(2);
      await failWrites(2, lostToAnEnqueue);
      expect(await retry()).toEqual({ changed: 2, nextCursor: null });
      expect(await tries()).toBe(3);
    });

    it('gives up after a third race lost to an enqueue, and changes nothing', async () => {
      const jobs = await failedJobs(2);
      await failWrites(3, lostToAnEnqueue);
      await expect(retry()).rejects.toMatchObject({ constraint: lostToAnEnqueue.constraint });
      expect(await tries()).toBe(3);
      expect(new Set(Object.values(await statusOf(jobs.map((job) => job.id))))).toEqual(new Set(['failed']));
    });

    it.each([
      { code: '23514', constraint: 'processing_jobs_attempts_within_max' },
      { code: '23505', constraint: 'processing_jobs_pkey' },
    ])('does not run the batch again when the write fails on $constraint', async (error) => {
      await failedJobs(1);
      await failWrites(1, error);
      await expect(retry()).rejects.toMatchObject({ constraint: error.constraint });
      expect(await tries()).toBe(1);
    });
  });

  it('leaves the video of a job its session cancels while the batch is written as it was, and queues the others', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const [closing] = await failedJobs(1, { sessionId: session.id });
    const [open] = await failedJobs(1);
    // The session completes after the batch read it as running, and before the jobs' trigger reads it.
    const closer = await db().transaction();
    try {
      await closer('processing_sessions').where('id', session.id).forUpdate().select('id');
      await closer('processing_sessions')
        .where('id', session.id)
        .update({ status: 'completed', completed_at: closer.fn.now() });
      const retried = retry();
      await blockedOn('update "processing_jobs"');
      await closer.commit();
      expect(await retried).toEqual({ changed: 2, nextCursor: null });
    } finally {
      if (!closer.isCompleted()) await closer.rollback();
    }
    expect(await statusOf([closing!.id, open!.id])).toEqual({
      [closing!.id]: 'cancelled',
      [open!.id]: 'queued',
    });
    const videoStatus = async (id: string) => (await db()('videos').where({ id }).first('status')).status;
    // A cancelled job moves its video only from queued or processing, as a retry of one job in that session does.
    expect(await videoStatus(closing!.entityId)).toBe(videoStatusForJob.failed);
    expect(await videoStatus(open!.entityId)).toBe(videoStatusForJob.queued);
  });
});

describe('a bulk cancel', () => {
  it('cancels queued and running jobs, voids the running ones’ leases, and gives their videos back', async () => {
    const running = await queuedJobs(2);
    const claimed = await claimAll();
    const queued = await queuedJobs(2);
    const all = [...running, ...queued];
    expect(await preview('cancel')).toMatchObject({ count: 4 });
    expect(await preview('cancel', { status: 'running' })).toMatchObject({ count: 2 });
    expect(await cancel()).toEqual({ changed: 4, nextCursor: null });
    expect(new Set(Object.values(await statusOf(all.map((job) => job.id))))).toEqual(new Set(['cancelled']));
    expect(
      await db()('processing_jobs')
        .whereIn(
          'id',
          all.map((job) => job.id),
        )
        .whereNotNull('lease_token')
        .pluck('id'),
    ).toEqual([]);
    expect(
      await db()('processing_jobs')
        .whereIn(
          'id',
          all.map((job) => job.id),
        )
        .whereNull('completed_at')
        .pluck('id'),
    ).toEqual([]);
    await expect(
      completeJob(db(), { id: claimed[0]!.id, leaseToken: claimed[0]!.leaseToken, result: null }),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(
      new Set(
        await db()('videos')
          .whereIn(
            'id',
            all.map((job) => job.entityId),
          )
          .pluck('status'),
      ),
    ).toEqual(new Set([videoStatusForJob.cancelled]));
  });

  it('cancels a running job of a session that has completed', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const [job] = await queuedJobs(1, { sessionId: session.id });
    await claimAll();
    await transitionSession(db(), session.id, 'complete');
    expect(await preview('cancel')).toMatchObject({ count: 1 });
    expect(await cancel()).toEqual({ changed: 1, nextCursor: null });
    expect(await statusOf([job!.id])).toEqual({ [job!.id]: 'cancelled' });
  });

  it('counts only the jobs it cancelled when another call cancels one of its batch first', async () => {
    const [first, second] = await queuedJobs(2);
    const other = await db().transaction();
    try {
      await other('processing_jobs')
        .where('id', first!.id)
        .update({ status: 'cancelled', completed_at: other.fn.now() });
      const cancelled = cancel();
      await blockedOn('select "id" from "processing_jobs"');
      await other.commit();
      expect(await cancelled).toEqual({ changed: 1, nextCursor: null });
    } finally {
      if (!other.isCompleted()) await other.rollback();
    }
    expect(await statusOf([first!.id, second!.id])).toEqual({
      [first!.id]: 'cancelled',
      [second!.id]: 'cancelled',
    });
  });

  it('rejects a status the action does not move, naming status, on both transports', async () => {
    const rpc = await api.mutate('jobs.bulkRetry', { status: 'queued' }, bearer('admin'));
    expect(rpc.status).toBe(400);
    expect(rpc.error).toMatchObject({
      message: 'status: retry moves failed jobs only',
      data: { field: 'status' },
    });
    const rest = await request(api.app.server)
      .get('/api/jobs/bulk/preview')
      .query({ action: 'cancel', status: 'failed' })
      .set(bearer('reader'));
    expect(rest.status).toBe(400);
    expect(rest.body).toMatchObject({
      field: 'status',
      message: 'status: cancel moves queued or running jobs only',
    });
  });
});

describe('bulk calls and roles', () => {
  it('lets a reader preview but not retry or cancel, over tRPC and REST, and a rejected call changes nothing', async () => {
    const [failed] = await failedJobs(1);
    const previewed = await request(api.app.server)
      .get('/api/jobs/bulk/preview')
      .query({ action: 'retry', errorContains: 'timed out' })
      .set(bearer('reader'));
    expect(previewed.status).toBe(200);
    expect(previewed.body).toMatchObject({ count: 1, exact: true, sample: [{ id: failed!.id }] });
    for (const path of ['jobs.bulkRetry', 'jobs.bulkCancel'])
      expect((await api.mutate(path, {}, bearer('reader'))).status, path).toBe(403);
    for (const path of ['/api/jobs/bulk/retry', '/api/jobs/bulk/cancel'])
      expect((await request(api.app.server).post(path).set(bearer('reader')).send({})).status, path).toBe(
        403,
      );
    expect(await statusOf([failed!.id])).toEqual({ [failed!.id]: 'failed' });
    const retried = await request(api.app.server).post('/api/jobs/bulk/retry').set(bearer('admin')).send({});
    expect(retried.body).toEqual({ changed: 1, nextCursor: null });
  });
});

describe('bulk retries beside workers', () => {
  const workers = 6;
  let pool: Knex;
  // One connection per caller, so the workers and the sweeps really run side by side in PostgreSQL.
  beforeAll(() => {
    pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: workers + 6 });
  });
  afterAll(() => pool.destroy());

  it('cancel the jobs a worker is completing without deadlock, locking them in the order the completion does', async () => {
    const session = await processingSessionFactory.trait('running').create();
    // Stored in the reverse of their key order, one enqueue each, so neither the table's order nor the ids' is
    // the key order.
    const videos = (await videoFactory.createList(20)).sort((a, b) => (a.id < b.id ? 1 : -1));
    for (const video of videos) {
      await enqueueJobs(db(), [
        { jobType: 'transcript_extraction', entityType: 'video', entityId: video.id, sessionId: session.id },
      ]);
    }
    const held = await claimJobs(pool, claimJobsInput.parse({ workerId: 'w', limit: 20, leaseSeconds: 60 }));
    // Three jobs whose ids and places in the table ascend while their keys (here their videos) descend: by key
    // b, then c, then a, the order the sweep must lock them in, as the completion does.
    const byId = [...held].sort((x, y) => (x.id < y.id ? -1 : 1));
    let triple: [ClaimedJob, ClaimedJob, ClaimedJob] | undefined;
    for (const [i, a] of byId.entries())
      for (const [j, c] of byId.entries())
        for (const b of byId.slice(j + 1))
          if (!triple && i < j && a.entityId > c.entityId && c.entityId > b.entityId) triple = [a, c, b];
    const [a, c, b] = triple!;
    const deadlocksBefore = transientRetries.get('40P01') ?? 0;
    // The middle job held by another writer, so the worker and then the sweep queue behind it.
    const other = await db().transaction();
    let completing: ReturnType<typeof completeJobs> | undefined;
    let cancelling: ReturnType<typeof changeBulk> | undefined;
    try {
      await other('processing_jobs').where({ id: c.id }).forUpdate().select('id');
      completing = completeJobs(pool, {
        jobs: [a, b, c].map((job) => ({ id: job.id, leaseToken: job.leaseToken, result: null })),
      });
      await blockedOn('SELECT * FROM complete_jobs');
      cancelling = changeBulk(pool, 'cancel', bulkCancelInput.parse({ sessionId: session.id, limit: 50 }));
      await until(async () => (await lockWaits()).length >= 2);
      await other.commit();
    } finally {
      if (!other.isCompleted()) await other.rollback();
    }
    const [completion, cancel] = await Promise.all([completing!, cancelling!]);
    // The worker was first in line: its jobs completed, and the sweep cancelled the rest.
    expect(completion.completed).toHaveLength(3);
    expect(cancel.changed).toBe(17);
    expect((transientRetries.get('40P01') ?? 0) - deadlocksBefore).toBe(0);
    expect(await statusOf([a.id, b.id, c.id])).toEqual({
      [a.id]: 'completed',
      [b.id]: 'completed',
      [c.id]: 'completed',
    });
  });

  it('never deadlock, and leave jobs, videos and the session’s counts agreeing', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const jobs = await queuedJobs(300, { sessionId: session.id });
    const deadlocksBefore = transientRetries.get('40P01') ?? 0;
    let sweeping = true;
    // Workers fail every other job for good while the sweeps run, then complete whatever is left.
    const worker = async (workerId: string) => {
      for (let round = 0; ; round += 1) {
        const claimed = await claimJobs(
          pool,
          claimJobsInput.parse({ workerId, limit: 10, leaseSeconds: 60 }),
        );
        if (claimed.length === 0) {
          if (!sweeping) return;
          await sleep(10);
        }
        for (const [index, job] of claimed.entries()) {
          if (sweeping && (index + round) % 2 === 0) {
            failed += 1;
            await failJob(
              pool,
              failJobInput.parse({
                id: job.id,
                leaseToken: job.leaseToken,
                error: 'flaky',
                retryable: false,
              }),
            );
          } else await completeJob(pool, { id: job.id, leaseToken: job.leaseToken, result: null });
        }
      }
    };
    let retried = 0;
    let failed = 0;
    const sweeper = async () => {
      // The sweeps meet the workers' failures however slowly the workers start: they begin at the first one.
      await until(() => failed > 0);
      for (let round = 0; round < 8; round += 1)
        for (const result of await sweep((cursor) =>
          changeBulk(pool, 'retry', bulkRetryInput.parse({ sessionId: session.id, limit: 25, cursor })),
        ))
          retried += result.changed;
    };
    const running = Array.from({ length: workers }, (_, index) => worker(`worker-${index}`));
    await Promise.all([sweeper(), sweeper()]);
    sweeping = false;
    await sweep((cursor) =>
      changeBulk(pool, 'retry', bulkRetryInput.parse({ sessionId: session.id, cursor })),
    );
    await Promise.all(running);
    // The last sweep may queue jobs after every worker found the queue empty.
    await worker('drain');

    expect(retried).toBeGreaterThan(0);
    expect((transientRetries.get('40P01') ?? 0) - deadlocksBefore).toBe(0);
    const rows = await db()('processing_jobs')
      .join('videos', 'videos.id', 'processing_jobs.entity_id')
      .where('processing_jobs.session_id', session.id)
      .select('processing_jobs.status as job', 'videos.status as video');
    expect(rows).toHaveLength(jobs.length);
    for (const row of rows) expect(row.video).toBe(videoStatusForJob[row.job as 'completed' | 'failed']);
    const byStatus = Object.fromEntries(
      (
        await db()('processing_jobs')
          .where('session_id', session.id)
          .groupBy('status')
          .select('status', db().raw('count(*)::int AS jobs'))
      ).map((row) => [row.status, row.jobs]),
    );
    const progress = await sessionProgress(db(), session.id);
    expect(progress).toMatchObject({ total: jobs.length, queued: 0, running: 0 });
    expect({ completed: progress.completed, failed: progress.failed }).toEqual({
      completed: byStatus.completed ?? 0,
      failed: byStatus.failed ?? 0,
    });
  });
});
