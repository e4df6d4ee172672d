import { claimJobsInput } from '../../src/schemas/processing-job';
import { beforeEach, describe, expect, it } from 'vitest';
import { processingJobFactory } from '../../dev/factories';
import { claimJobs, heartbeat } from '../../src/queue/job-queue';
import { ConflictError } from '../../src/services/errors';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

// Claims take any runnable job of the database: each test starts from an empty queue.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

const claimOne = async () => (await claimJobs(db(), claimJobsInput.parse({ workerId: 'w', limit: 1 })))[0];

describe('a lease token fences its job', () => {
  it('rejects a heartbeat with a lease token that is no longer the job’s', async () => {
    await processingJobFactory.create();
    const first = (await claimOne())!;
    await db()('processing_jobs')
      .where({ id: first.id })
      .update({ lease_expires_at: new Date(Date.now() - 1_000) });
    const second = (await claimOne())!;
    expect(second.id).toBe(first.id);
    await expect(
      heartbeat(db(), { id: first.id, leaseToken: first.leaseToken!, leaseSeconds: 60 }),
    ).rejects.toBeInstanceOf(ConflictError);
    const extended = await heartbeat(db(), {
      id: second.id,
      leaseToken: second.leaseToken!,
      leaseSeconds: 600,
    });
    expect(extended.leaseExpiresAt!.getTime()).toBeGreaterThan(Date.now() + 590_000);
  });
});
