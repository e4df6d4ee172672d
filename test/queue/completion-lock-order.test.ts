import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processingSessionFactory, videoFactory } from '../../dev/factories';
import { connect } from '../../src/db/connect';
import { claimJobs, completeJobs, enqueueJobs } from '../../src/queue/job-queue';
import { type ClaimedJob, claimJobsInput } from '../../src/schemas/processing-job';
import { transientRetries } from '../../src/services/database-errors';
import { transitionSession } from '../../src/services/processing-sessions';
import { testDatabase, testPoolSettings } from '../support/database';
import { lockWaits } from '../support/lock-waits';
import { until } from '../support/until';

const db = () => testDatabase().db;

let pool: Knex;
// Connections of their own, so the completion and the pause really wait on each other in PostgreSQL.
beforeAll(() => {
  pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: 4 });
});
afterAll(() => pool.destroy());

/**
 * Two claimed jobs of the session whose ids and entities sort in opposite orders: locking by id takes `byId` first,
 * locking in the queue's order (type, entity, id) takes `byEntity` first. Jobs are added until such a pair exists.
 */
async function oppositePair(sessionId: string): Promise<{ byId: ClaimedJob; byEntity: ClaimedJob }> {
  const claimed: ClaimedJob[] = [];
  for (let round = 0; round < 20; round += 1) {
    const videos = await videoFactory.createList(4);
    await enqueueJobs(
      db(),
      videos.map((video) => ({
        jobType: 'transcript_extraction' as const,
        entityType: 'video' as const,
        entityId: video.id,
        sessionId,
      })),
    );
    claimed.push(
      ...(await claimJobs(db(), claimJobsInput.parse({ workerId: 'w', limit: 10, leaseSeconds: 60 }))),
    );
    for (const byId of claimed)
      for (const byEntity of claimed)
        if (byId.id < byEntity.id && byId.entityId > byEntity.entityId) return { byId, byEntity };
  }
  throw new Error('no two jobs whose ids and entities sort in opposite orders');
}

describe('a batch completion beside a pause of its jobs’ session', () => {
  it('locks the jobs in the queue’s order, so the two queue behind each other instead of deadlocking', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const { byId, byEntity } = await oppositePair(session.id);
    const deadlocksBefore = transientRetries.get('40P01') ?? 0;
    // Another writer holds the job both take first in the queue's order: the pause waits for it, then the
    // completion, which (locking in any other order) would hold the other job meanwhile.
    const other = await db().transaction();
    let results: [Awaited<ReturnType<typeof completeJobs>>, unknown] | undefined;
    try {
      await other('processing_jobs').where({ id: byEntity.id }).forUpdate().select('id');
      const pausing = transitionSession(pool, session.id, 'pause');
      await until(async () => (await lockWaits()).length >= 1);
      const completing = completeJobs(pool, {
        jobs: [byId, byEntity].map((job) => ({ id: job.id, leaseToken: job.leaseToken, result: null })),
      });
      await until(async () => (await lockWaits()).length >= 2);
      await other.commit();
      results = await Promise.all([completing, pausing]);
    } finally {
      if (!other.isCompleted()) await other.rollback();
    }

    const [completion] = results;
    expect(completion.completed.map((job) => job.id).sort()).toEqual([byId.id, byEntity.id].sort());
    expect((transientRetries.get('40P01') ?? 0) - deadlocksBefore).toBe(0);
  });
});
