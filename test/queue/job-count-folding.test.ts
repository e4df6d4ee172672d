import { beforeEach, describe, expect, it } from 'vitest';
import { foldJobCountsAbove, readJobCounts } from '../../src/queue/job-counts';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

// The deltas of this file's database alone, none left from the jobs of other tests.
beforeEach(async () => {
  await db()('processing_jobs').delete();
  await db()('processing_job_counts').delete();
});

/** `count` delta rows of running transcript jobs, +1 and -1 in turn from `from`. */
const deltas = (count: number, from = 1) =>
  db().raw(
    `INSERT INTO processing_job_counts (job_type, status, jobs, lease_expiries)
     SELECT 'transcript_extraction', 'running', CASE WHEN i % 2 = 1 THEN 1 ELSE -1 END, 0
       FROM generate_series(?::int, ?::int) AS i`,
    [from, from + count - 1],
  );
const deltaRows = async () => Number((await db()('processing_job_counts').count())[0]!.count);

describe('reading the job counts', () => {
  it('leaves up to 1,000 delta rows as they are, and folds them into one per type and status past that', async () => {
    await deltas(foldJobCountsAbove);
    expect(await readJobCounts(db())).toEqual([
      { jobType: 'transcript_extraction', status: 'running', jobs: 0, leaseExpiries: 0 },
    ]);
    expect(await deltaRows()).toBe(foldJobCountsAbove);

    await deltas(1, foldJobCountsAbove + 1);
    expect(await readJobCounts(db())).toEqual([
      { jobType: 'transcript_extraction', status: 'running', jobs: 1, leaseExpiries: 0 },
    ]);
    expect(await deltaRows()).toBe(1);
  });

  it('keeps no row for a type and status whose deltas come to nothing', async () => {
    await deltas(foldJobCountsAbove);
    await db()('processing_job_counts').insert({
      job_type: 'channel_discovery',
      status: 'queued',
      jobs: 2,
      lease_expiries: 0,
    });
    await readJobCounts(db());
    expect(await readJobCounts(db())).toEqual([
      { jobType: 'channel_discovery', status: 'queued', jobs: 2, leaseExpiries: 0 },
    ]);
    expect(await deltaRows()).toBe(1);
  });

  it('keeps the lease expiries of a type and status whose jobs come to nothing', async () => {
    await deltas(foldJobCountsAbove);
    await db()('processing_job_counts').insert({
      job_type: 'transcript_extraction',
      status: 'running',
      jobs: 0,
      lease_expiries: 3,
    });
    await readJobCounts(db());
    expect(await readJobCounts(db())).toEqual([
      { jobType: 'transcript_extraction', status: 'running', jobs: 0, leaseExpiries: 3 },
    ]);
    expect(await deltaRows()).toBe(1);
  });
});
