import { claimJobsInput } from '../../src/schemas/processing-job';
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { beforeEach, describe, expect, it } from 'vitest';
import { roleOf } from '../../src/api/access';
import { describeError } from '../../src/api/error-shape';
import { processingJobFactory, processingSessionFactory, videoFactory } from '../../dev/factories';
import {
  cancelJob,
  claimJobs,
  completeJob,
  completeJobs,
  enqueueJobs,
  heartbeat,
  retryJob,
} from '../../src/queue/job-queue';
import { translateDatabaseError } from '../../src/services/database-errors';
import { setJobTypeLimit } from '../../src/services/job-types';
import { deleteJob } from '../../src/services/processing-jobs';
import { deleteVideo } from '../../src/services/videos';
import { deleteSession, getSession, transitionSession } from '../../src/services/processing-sessions';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;
const missingId = '00000000-0000-4000-8000-00000000dead';

/** The error a call rejects with, for its class, words and field at once. */
const rejection = (call: Promise<unknown>) =>
  call.then(
    () => expect.unreachable('the call was accepted'),
    (error: Error & { field?: string }) => ({ name: error.name, message: error.message, field: error.field }),
  );

beforeEach(async () => {
  await db()('processing_jobs').delete();
});

describe('what a rejected queue call says', () => {
  it('names the missing entity of an enqueue', async () => {
    const enqueued = enqueueJobs(db(), [
      { jobType: 'transcript_extraction', entityType: 'video', entityId: missingId },
    ]);
    // The database rejects it; the API's edge says it in these words.
    expect(
      await rejection(
        enqueued.catch((error: unknown) => {
          throw translateDatabaseError(error);
        }),
      ),
    ).toEqual({ name: 'InvalidInputError', message: `video ${missingId} does not exist`, field: 'entityId' });
  });

  it('returns the active job for a key already queued, next to the new ones of the same batch', async () => {
    const [first, second] = await videoFactory.createList(2);
    const job = (videoId: string) => ({
      jobType: 'transcript_extraction' as const,
      entityType: 'video' as const,
      entityId: videoId,
    });
    const [existing] = await enqueueJobs(db(), [job(first!.id)]);
    const batch = await enqueueJobs(db(), [job(first!.id), job(second!.id)]);
    expect(batch[0]!.id).toBe(existing!.id);
    expect(batch[1]!.id).not.toBe(existing!.id);
    expect(batch[1]).toMatchObject({ entityId: second!.id, status: 'queued' });
  });

  it('says why a job cannot be cancelled or retried, naming its status', async () => {
    const done = await processingJobFactory.trait('completed').create();
    expect(await rejection(cancelJob(db(), done.id))).toEqual({
      name: 'ConflictError',
      message: 'only queued or running jobs can be cancelled; this one is completed',
      field: 'status',
    });
    const queued = await processingJobFactory.create();
    expect(await rejection(retryJob(db(), queued.id))).toEqual({
      name: 'ConflictError',
      message: 'only failed jobs can be retried; this one is queued',
      field: 'status',
    });
  });

  it('says why each of a batch of completions was rejected: finished, claimed again, or unknown', async () => {
    const [finished, taken] = await processingJobFactory.createList(2);
    const [claimedFinished, claimedTaken] = await claimJobs(
      db(),
      claimJobsInput.parse({ workerId: 'w', limit: 2 }),
    );
    const byId = new Map([claimedFinished, claimedTaken].map((job) => [job!.id, job!]));
    await completeJob(db(), { id: finished!.id, leaseToken: byId.get(finished!.id)!.leaseToken! });
    await db()('processing_jobs')
      .where({ id: taken!.id })
      .update({ lease_token: '00000000-0000-4000-8000-000000000003' });
    const { completed, rejected } = await completeJobs(db(), {
      jobs: [
        { id: finished!.id, leaseToken: byId.get(finished!.id)!.leaseToken! },
        { id: taken!.id, leaseToken: byId.get(taken!.id)!.leaseToken! },
        { id: missingId, leaseToken: '00000000-0000-4000-8000-000000000004' },
      ],
    });
    expect(completed).toEqual([]);
    expect(rejected).toEqual([
      { id: finished!.id, reason: 'the job is completed' },
      { id: taken!.id, reason: 'the lease is no longer yours: the job was claimed again' },
      { id: missingId, reason: `job ${missingId} not found` },
    ]);
  });
});

describe('what a call about a row that does not exist says', () => {
  it('names the row, on deletes, lease calls and limits alike', async () => {
    const notFound = (entity: string) => ({
      name: 'NotFoundError',
      message: `${entity} ${missingId} not found`,
      field: 'id',
    });
    expect(await rejection(deleteJob(db(), missingId))).toEqual(notFound('job'));
    expect(await rejection(deleteSession(db(), missingId))).toEqual(notFound('processing session'));
    expect(await rejection(deleteVideo(db(), missingId))).toEqual(notFound('video'));
    const lease = { id: missingId, leaseToken: '00000000-0000-4000-8000-000000000005' };
    expect(await rejection(heartbeat(db(), { ...lease, leaseSeconds: 60 }))).toEqual(notFound('job'));
    expect(await rejection(completeJob(db(), lease))).toEqual(notFound('job'));
    expect(await rejection(cancelJob(db(), missingId))).toEqual(notFound('job'));
    expect(
      await rejection(
        setJobTypeLimit(db(), { jobType: 'idea_extraction' as 'channel_discovery', maxRunning: 1 }),
      ),
    ).toEqual({ name: 'NotFoundError', message: 'job type idea_extraction not found', field: 'id' });
  });
});

describe('what a rejected session call says', () => {
  it('names the status a session cannot leave by that transition', async () => {
    const session = await processingSessionFactory.trait('completed').create();
    expect(await rejection(transitionSession(db(), session.id, 'pause'))).toEqual({
      name: 'ConflictError',
      message: 'a completed session cannot pause',
      field: 'status',
    });
  });

  it('names a session that does not exist', async () => {
    expect(await rejection(getSession(db(), missingId))).toEqual({
      name: 'NotFoundError',
      message: `processing session ${missingId} not found`,
      field: 'id',
    });
  });
});

describe('the role of a bearer token', () => {
  const tokens = [
    { token: 'reader-token', role: 'reader' as const },
    { token: 'admin-token', role: 'admin' as const },
    { token: 'admin-token', role: 'worker' as const },
  ];

  it('reads the scheme in any case and any number of spaces before the token', () => {
    expect(roleOf('Bearer reader-token', tokens)).toBe('reader');
    expect(roleOf('bearer   reader-token', tokens)).toBe('reader');
    expect(roleOf('BEARER admin-token', tokens)).toBe('admin');
  });

  it('is none for anything around the token, another scheme, or no token', () => {
    for (const header of [
      'Bearer reader-token extra',
      'xBearer reader-token',
      'Bearerreader-token',
      'Basic reader-token',
      'Bearer ',
      'reader-token',
      undefined,
    ])
      expect(roleOf(header, tokens)).toBeUndefined();
  });

  it('is the first configured role for a token given twice', () => {
    expect(roleOf('Bearer admin-token', tokens)).toBe('admin');
  });
});

describe('what an error tells the caller', () => {
  const rejected = (schema: z.ZodType, input: unknown) =>
    describeError(new TRPCError({ code: 'BAD_REQUEST', cause: schema.safeParse(input).error! }), false);

  it('sums up rejected input field by field, the first field named, the root called input', () => {
    expect(rejected(z.object({ a: z.string(), b: z.number() }), { a: 1, b: 'x' })).toMatchObject({
      message:
        'a: Invalid input: expected string, received number; b: Invalid input: expected number, received string',
      field: 'a',
    });
    expect(rejected(z.object({ a: z.string() }), 'text')).toMatchObject({
      message: 'input: Invalid input: expected object, received string',
      field: null,
    });
  });

  it('names an unknown key of a strict object down to the key', () => {
    expect(
      rejected(z.strictObject({ items: z.array(z.strictObject({})) }), { items: [{ stray: 1 }] }),
    ).toMatchObject({
      field: 'items.0.stray',
      issues: [{ path: ['items', 0, 'stray'], code: 'unrecognized_keys' }],
    });
  });

  it('gives a domain error’s field only when it is a name', () => {
    const withField = (field: unknown) =>
      describeError(
        new TRPCError({ code: 'CONFLICT', message: 'no', cause: Object.assign(new Error('no'), { field }) }),
        false,
      ).field;
    expect(withField('status')).toBe('status');
    expect(withField(7)).toBeNull();
    expect(withField(undefined)).toBeNull();
  });
});
