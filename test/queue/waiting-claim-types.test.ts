import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { processingJobFactory } from '../../dev/factories';
import { claimJobs } from '../../src/queue/job-queue';
import { JobWakeups } from '../../src/queue/wakeups';
import { claimJobsInput } from '../../src/schemas/processing-job';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;
let wakeups: JobWakeups;

beforeAll(() => {
  wakeups = new JobWakeups(testDatabase().url);
});
afterAll(() => wakeups.close());
// Claims take any runnable job of the database: each test starts from an empty queue.
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

describe('a waiting claim for some job types', () => {
  it('does not look again when a job of another type falls due while it waits', async () => {
    const other = await processingJobFactory
      .trait('discovery', 'retrying')
      .create({ runAfter: new Date(Date.now() + 200) });
    // Listening already: a connection that opens wakes every waiter, and it would look again.
    expect(await wakeups.listening()).toBe(true);
    const claims: string[] = [];
    const count = ({ sql }: { sql: string }) => {
      if (sql.includes('claim_jobs(')) claims.push(sql);
    };
    db().on('query', count);
    try {
      const claimed = await claimJobs(
        db(),
        claimJobsInput.parse({ workerId: 'waiter', jobTypes: ['transcript_extraction'], waitMs: 1_500 }),
        wakeups,
      );
      expect(claimed).toEqual([]);
    } finally {
      db().off('query', count);
    }
    // Once as it starts and once at the end of its wait: the other type's job never woke it.
    expect(claims).toHaveLength(2);
    expect(await db()('processing_jobs').where('id', other.id).first('status')).toEqual({ status: 'queued' });
  });
});
