import type { Knex } from 'knex';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  videoFactory,
} from '../../dev/factories';
import {
  lockJobsAbout,
  lockJobsOfSession,
  lockVideosOfChannel,
  lockVideosOfQueuedJobs,
} from '../../src/services/lock-order';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

/**
 * Which of `ids` in `table` the lock holds: each is probed from another connection with NOWAIT while the
 * locking transaction is open.
 */
async function lockedBy(lock: (trx: Knex.Transaction) => Promise<void>, table: string, ids: string[]) {
  const trx = await db().transaction();
  try {
    await lock(trx);
    const locked: string[] = [];
    for (const id of ids) {
      const probe = await db().transaction();
      await probe(table)
        .where({ id })
        .forUpdate()
        .noWait()
        .select('id')
        .catch((error: { code?: string }) => {
          if (error.code !== '55P03') throw error;
          locked.push(id);
        });
      await probe.rollback();
    }
    return locked.sort();
  } finally {
    await trx.rollback();
  }
}

const sorted = (...ids: string[]) => [...ids].sort();

let ids: Record<'channelA' | 'channelB' | 'videoA1' | 'videoA2' | 'videoB1' | 'session', string> =
  {} as never;
let jobs: Record<'discoveryA' | 'discoveryB' | 'a1' | 'a2' | 'b1' | 'doneA2', string> = {} as never;

beforeAll(async () => {
  const [channelA, channelB] = await channelFactory.createList(2);
  const [videoA1, videoA2] = await videoFactory.createList(2, { channelId: channelA!.id });
  const videoB1 = await videoFactory.create({ channelId: channelB!.id });
  const session = await processingSessionFactory.trait('running').create();
  ids = {
    channelA: channelA!.id,
    channelB: channelB!.id,
    videoA1: videoA1!.id,
    videoA2: videoA2!.id,
    videoB1: videoB1.id,
    session: session.id,
  };
  const job = async (entityId: string, extra: Parameters<typeof processingJobFactory.create>[0] = {}) =>
    (await processingJobFactory.create({ entityId, ...extra })).id;
  jobs = {
    discoveryA: await job(ids.channelA, { jobType: 'channel_discovery', entityType: 'channel' }),
    discoveryB: await job(ids.channelB, { jobType: 'channel_discovery', entityType: 'channel' }),
    a1: await job(ids.videoA1, { sessionId: ids.session }),
    a2: await job(ids.videoA2),
    b1: await job(ids.videoB1, { sessionId: ids.session }),
    doneA2: (
      await processingJobFactory
        .trait('completed')
        .create({ entityId: ids.videoA2, sessionId: ids.session, jobType: 'transcript_extraction' })
    ).id,
  };
});

const allJobs = () => Object.values(jobs);

describe('the locks a multi-row write takes first', () => {
  it('about channels: the jobs about those channels only', async () => {
    const locked = await lockedBy(
      (trx) => lockJobsAbout(trx, { channelIds: [ids.channelA] }),
      'processing_jobs',
      allJobs(),
    );
    expect(locked).toEqual(sorted(jobs.discoveryA));
  });

  it('about videos: the jobs about those videos only, finished ones included', async () => {
    const locked = await lockedBy(
      (trx) => lockJobsAbout(trx, { videoIds: [ids.videoA2, ids.videoB1] }),
      'processing_jobs',
      allJobs(),
    );
    expect(locked).toEqual(sorted(jobs.a2, jobs.b1, jobs.doneA2));
  });

  it('about the videos of a channel: their jobs, not the channel’s own nor other channels’', async () => {
    const locked = await lockedBy(
      (trx) => lockJobsAbout(trx, { videosOfChannel: ids.channelA }),
      'processing_jobs',
      allJobs(),
    );
    expect(locked).toEqual(sorted(jobs.a1, jobs.a2, jobs.doneA2));
  });

  it('about a channel and its videos at once: the union', async () => {
    const locked = await lockedBy(
      (trx) => lockJobsAbout(trx, { channelIds: [ids.channelA], videosOfChannel: ids.channelA }),
      'processing_jobs',
      allJobs(),
    );
    expect(locked).toEqual(sorted(jobs.discoveryA, jobs.a1, jobs.a2, jobs.doneA2));
  });

  it('of a channel’s videos: those videos only', async () => {
    const locked = await lockedBy((trx) => lockVideosOfChannel(trx, ids.channelA), 'videos', [
      ids.videoA1,
      ids.videoA2,
      ids.videoB1,
    ]);
    expect(locked).toEqual(sorted(ids.videoA1, ids.videoA2));
  });

  it('of a session: all its jobs, or with `active` its queued and running ones', async () => {
    expect(
      await lockedBy((trx) => lockJobsOfSession(trx, ids.session), 'processing_jobs', allJobs()),
    ).toEqual(sorted(jobs.a1, jobs.b1, jobs.doneA2));
    expect(
      await lockedBy(
        (trx) => lockJobsOfSession(trx, ids.session, { active: true }),
        'processing_jobs',
        allJobs(),
      ),
    ).toEqual(sorted(jobs.a1, jobs.b1));
  });

  it('of the videos of a session’s queued jobs: those videos only', async () => {
    await db()('processing_jobs')
      .where({ id: jobs.b1 })
      .update({
        status: 'running',
        attempts: 1,
        lease_token: '00000000-0000-4000-8000-000000000001',
        lease_expires_at: new Date(Date.now() + 60_000),
        locked_by: 'w',
      });
    try {
      expect(
        await lockedBy((trx) => lockVideosOfQueuedJobs(trx, ids.session), 'videos', [
          ids.videoA1,
          ids.videoA2,
          ids.videoB1,
        ]),
      ).toEqual(sorted(ids.videoA1));
    } finally {
      await db()('processing_jobs').where({ id: jobs.b1 }).update({
        status: 'queued',
        attempts: 0,
        lease_token: null,
        lease_expires_at: null,
        locked_by: null,
      });
    }
  });
});
