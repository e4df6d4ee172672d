import { setTimeout as sleep } from 'node:timers/promises';
import type { Knex } from 'knex';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { connect } from '../../src/db/connect';
import { processingJobFactory } from '../../dev/factories';
import { claimJobsInput, type JobType, type JobTypeSettings } from '../../src/schemas/processing-job';
import { claimJobs, completeJob } from '../../src/queue/job-queue';
import { setJobTypeLimit } from '../../src/services/job-types';
import { useApi } from '../support/api';
import { testDatabase, testPoolSettings } from '../support/database';

const db = () => testDatabase().db;
const api = useApi();

// Claims take any runnable job of the database: each test starts from an empty queue and no limits.
beforeEach(async () => {
  await db()('processing_jobs').delete();
  await db()('job_types').update({ max_running: null });
});

const queued = (count: number, trait?: 'discovery', priority = 0) =>
  (trait ? processingJobFactory.trait(trait) : processingJobFactory).createList(count, { priority });
const claim = (limit: number, jobTypes?: JobType[]) =>
  claimJobs(
    db(),
    claimJobsInput.parse({ workerId: 'w', limit, leaseSeconds: 60, ...(jobTypes ? { jobTypes } : {}) }),
  );
const typesOf = (jobs: readonly { jobType: string }[]) => jobs.map((job) => job.jobType).sort();

describe('a running limit per job type', () => {
  it('hands out no more of a type than its limit, and the other types around it', async () => {
    await queued(4);
    await queued(3, 'discovery');
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: 1 });
    expect(typesOf(await claim(10))).toEqual([
      'channel_discovery',
      'channel_discovery',
      'channel_discovery',
      'transcript_extraction',
    ]);
    expect(await claim(10)).toEqual([]);
  });

  it('weighs a limited type’s jobs against the other types’ by priority, one claim of one at a time', async () => {
    const [low] = await queued(1, 'discovery', 0);
    const [high] = await queued(1, undefined, 10);
    const [middle] = await queued(1, 'discovery', 5);
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: 5 });
    expect((await claim(1)).map((job) => job.id)).toEqual([high!.id]);
    expect((await claim(1)).map((job) => job.id)).toEqual([middle!.id]);
    expect((await claim(1)).map((job) => job.id)).toEqual([low!.id]);
  });

  it('frees a place when a job of the type completes, and counts the limit itself as room (edge: limit 2)', async () => {
    await queued(3);
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: 2 });
    const first = await claim(1);
    expect(await claim(5)).toHaveLength(1);
    expect(await claim(5)).toEqual([]);
    await completeJob(db(), { id: first[0]!.id, leaseToken: first[0]!.leaseToken!, result: null });
    expect(await claim(5)).toHaveLength(1);
  });

  it('leaves a limited type its whole room however many jobs of other types, or its own finished ones, there are', async () => {
    await processingJobFactory.trait('discovery', 'running').createList(3);
    for (const trait of ['completed', 'exhausted', 'cancelled'] as const) {
      await processingJobFactory.trait(trait).create();
    }
    await queued(3);
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: 2 });
    expect(typesOf(await claim(10, ['transcript_extraction']))).toEqual([
      'transcript_extraction',
      'transcript_extraction',
    ]);
    expect(await claim(10, ['transcript_extraction'])).toEqual([]);
  });

  it('gives each limited type its own room when several types are limited and running side by side', async () => {
    await queued(3);
    await queued(3, 'discovery');
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: 1 });
    await setJobTypeLimit(db(), { jobType: 'channel_discovery', maxRunning: 2 });
    expect(typesOf(await claim(10))).toEqual([
      'channel_discovery',
      'channel_discovery',
      'transcript_extraction',
    ]);
    expect(await claim(10)).toEqual([]);
    await queued(1);
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: 2 });
    expect(typesOf(await claim(10))).toEqual(['transcript_extraction']);
  });

  it('stops a type at 0 and lifts the limit with null', async () => {
    await queued(3);
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: 0 });
    expect(await claim(10, ['transcript_extraction'])).toEqual([]);
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: null });
    expect(await claim(10, ['transcript_extraction'])).toHaveLength(3);
  });

  it('does not count a job whose lease ran out, and hands that job over within the limit', async () => {
    await queued(2, undefined, 0);
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: 1 });
    const [held] = await claim(1);
    await db()('processing_jobs')
      .where({ id: held!.id })
      .update({ lease_expires_at: new Date(Date.now() - 1) });
    const taken = await claim(5);
    expect(taken).toHaveLength(1);
    expect(await claim(5)).toEqual([]);
  });

  it('lists as running only the jobs whose lease has not run out, and a cool-down only while it lasts', async () => {
    await processingJobFactory.trait('running').create({ leaseExpiresAt: new Date(Date.now() + 60_000) });
    await processingJobFactory.trait('running').create({ leaseExpiresAt: new Date(Date.now() - 1_000) });
    const transcripts = async () =>
      (await api.query<JobTypeSettings[]>('jobs.types')).data.find(
        (type) => type.jobType === 'transcript_extraction',
      )!;
    const coolDown = (at: Date) =>
      db()('job_types').where({ name: 'transcript_extraction' }).update({ cooldown_until: at });
    try {
      await coolDown(new Date(Date.now() - 1_000));
      expect(await transcripts()).toMatchObject({ running: 1, cooldownUntil: null });
      const until = new Date(Date.now() + 60_000);
      await coolDown(until);
      expect((await transcripts()).cooldownUntil).toEqual(until);
    } finally {
      await db()('job_types').update({ cooldown_until: null });
    }
  });

  it('lists each type with its limit and running count, and sets a limit over the API', async () => {
    await queued(2);
    await claim(1);
    const set = await api.mutate<JobTypeSettings>('jobs.setTypeLimit', {
      jobType: 'transcript_extraction',
      maxRunning: 100_000,
    });
    expect(set.data).toMatchObject({ jobType: 'transcript_extraction', maxRunning: 100_000, running: 1 });
    const listed = await api.query<JobTypeSettings[]>('jobs.types');
    expect(
      listed.data.map(({ jobType, entityType, maxRunning, running }) => ({
        jobType,
        entityType,
        maxRunning,
        running,
      })),
    ).toEqual([
      { jobType: 'channel_discovery', entityType: 'channel', maxRunning: null, running: 0 },
      { jobType: 'transcript_extraction', entityType: 'video', maxRunning: 100_000, running: 1 },
    ]);
    for (const [input, field] of [
      [{ jobType: 'transcript_extraction', maxRunning: 100_001 }, 'maxRunning'],
      [{ jobType: 'transcript_extraction', maxRunning: -1 }, 'maxRunning'],
      [{ jobType: 'transcript_extraction', maxRunning: 1.5 }, 'maxRunning'],
      [{ jobType: 'idea_extraction', maxRunning: 1 }, 'jobType'],
    ] as const) {
      const rejected = await api.mutate('jobs.setTypeLimit', input);
      expect(rejected.status, JSON.stringify(input)).toBe(400);
      expect(rejected.error?.data.field).toBe(field);
    }
  });
});

describe('a running limit under 16 concurrent claimers', () => {
  const claimers = 16;
  let pool: Knex;

  // One connection per claimer, so the claims really run side by side in PostgreSQL.
  beforeAll(() => {
    pool = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: claimers + 4 });
  });
  afterAll(() => pool.destroy());

  it('is never exceeded in any sample of the running jobs, and every job still runs exactly once', async () => {
    const limit = 3;
    const jobs = await queued(80);
    await queued(20, 'discovery');
    await setJobTypeLimit(db(), { jobType: 'transcript_extraction', maxRunning: limit });

    let done = false;
    const samples: number[] = [];
    const sample = async () => {
      const [row] = await db()('processing_jobs')
        .where({ job_type: 'transcript_extraction', status: 'running' })
        .count<{ running: string }[]>({ running: '*' });
      samples.push(Number(row!.running));
    };
    // Samples at any moment, and at each moment a claimer holds what it just claimed, however fast each runs.
    const sampler = (async () => {
      while (!done) await sample();
    })();

    const completed = new Map<string, number>();
    const claimer = async (index: number) => {
      while (completed.size < 100) {
        const claimed = await claimJobs(
          db(),
          claimJobsInput.parse({ workerId: `claimer-${index}`, limit: 2, leaseSeconds: 60 }),
        );
        if (claimed.length === 0) {
          await sleep(2);
          continue;
        }
        await sample();
        await sleep(5 + (index % 4) * 3);
        for (const job of claimed) {
          await completeJob(db(), { id: job.id, leaseToken: job.leaseToken!, result: null });
          completed.set(job.id, (completed.get(job.id) ?? 0) + 1);
        }
      }
    };
    await Promise.all(Array.from({ length: claimers }, (_, index) => claimer(index)));
    done = true;
    await sampler;

    console.info(
      `${claimers} claimers, limit ${limit}: ${samples.length} samples, most running at once ${Math.max(...samples)}`,
    );
    expect(Math.max(...samples)).toBe(limit);
    expect([...completed.values()].every((times) => times === 1)).toBe(true);
    expect(jobs.every((job) => completed.has(job.id))).toBe(true);
  });
});
