import { beforeEach, describe, expect, it } from 'vitest';
import { channelFactory, videoFactory } from '../../dev/factories';
import type { ClaimedJob } from '../../src/schemas/processing-job';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';
import { claimAt, resetFlowControl } from '../support/flow-control';

const db = () => testDatabase().db;

beforeEach(() => resetFlowControl(db()));

/** A channel's backlog of discovery jobs, written in one statement as a backfill would queue them. */
async function backlog(key: string, count: number, priority = 0): Promise<void> {
  await db().raw(
    `INSERT INTO processing_jobs (job_type, entity_type, entity_id, rate_key, priority, run_after)
     SELECT 'channel_discovery', 'channel', gen_random_uuid(), ?, ?, now() - interval '1 hour'
       FROM generate_series(1, ?)`,
    [key, priority, count],
  );
}

/** One new discovery job for each of `count` new channels, each its own key. */
async function newChannels(count: number): Promise<string[]> {
  const channels = await channelFactory.createList(count);
  const jobs = await enqueueJobs(
    db(),
    channels.map((channel) => ({
      jobType: 'channel_discovery',
      entityType: 'channel',
      entityId: channel.id,
    })),
  );
  return jobs.map((job) => job.id);
}

/** Claims `claims` times, ten jobs each, as one worker. */
async function claimTimes(claims: number): Promise<ClaimedJob[]> {
  const claimed: ClaimedJob[] = [];
  for (let index = 0; index < claims; index += 1) claimed.push(...(await claimAt(db(), undefined, 10)));
  return claimed;
}

describe('claims between keys', () => {
  it("take one job of each key before a second of any: a key's jobs go round by round", async () => {
    const [busy, quiet] = await channelFactory.createList(2);
    const videos = await videoFactory.createList(3, { channelId: busy!.id });
    const [quietVideo] = await videoFactory.createList(1, { channelId: quiet!.id });
    const jobs = await enqueueJobs(
      db(),
      [...videos, quietVideo!].map((video) => ({
        jobType: 'transcript_extraction',
        entityType: 'video',
        entityId: video.id,
      })),
    );
    const busyKey = `channel:${busy!.id}`;
    expect(
      jobs
        .filter((job) => job.rateKey === busyKey)
        .map((job) => job.fairRound)
        .sort(),
    ).toEqual([0, 1, 2]);
    expect(jobs[3]).toMatchObject({ rateKey: `channel:${quiet!.id}`, fairRound: 0 });
    const rounds: [string, number][] = [];
    for (let claim = 0; claim < 4; claim += 1) {
      rounds.push(
        ...(await claimAt(db(), undefined, 1)).map((job): [string, number] => [job.rateKey, job.fairRound]),
      );
    }
    expect(rounds.slice(0, 2).map(([, round]) => round)).toEqual([0, 0]);
    expect(rounds.slice(2)).toEqual([
      [busyKey, 1],
      [busyKey, 2],
    ]);
  });

  // Writing 50,000 jobs, each numbered within its key as it is inserted, takes seconds on a busy machine.
  const backlogMs = 120_000;

  it(
    'start one new job on each of 50 channels within the first claims, past a backlog of 50,000 on another',
    { timeout: backlogMs },
    async () => {
      await backlog('channel:backfill', 50_000);
      const fresh = await newChannels(50);
      const claimed = await claimTimes(6);
      expect(fresh.filter((id) => !claimed.some((job) => job.id === id))).toEqual([]);
      expect(claimed.filter((job) => job.rateKey === 'channel:backfill').length).toBeLessThanOrEqual(10);
    },
  );

  it('start new keys first while the backlog is being worked on, not after it', async () => {
    await backlog('channel:backfill', 2_000);
    expect(await claimAt(db(), undefined, 100)).toHaveLength(100);
    const fresh = await newChannels(50);
    const claimed = await claimTimes(6);
    expect(fresh.filter((id) => !claimed.some((job) => job.id === id))).toEqual([]);
  });

  it('let a key that comes late join the round being served, behind the rounds already waiting', async () => {
    await backlog('channel:early', 10);
    // The early key's sixth job is taken first, so the newest lease serves round 5.
    await db()
      .from('processing_jobs')
      .where({ rate_key: 'channel:early', fair_round: 5 })
      .update({ priority: 10 });
    expect(await claimAt(db(), undefined, 1)).toMatchObject([{ fairRound: 5 }]);
    await db().from('processing_jobs').where({ rate_key: 'channel:early' }).update({ priority: 0 });
    const [late] = await newChannels(1);
    const order: string[] = [];
    for (let claim = 0; claim < 6; claim += 1) {
      order.push(
        ...(await claimAt(db(), undefined, 1)).map((job) => (job.id === late ? 'late' : job.rateKey)),
      );
    }
    expect(order).toEqual([...Array.from({ length: 5 }, () => 'channel:early'), 'late']);
  });

  it('give way to priority: a backlog of higher priority starts first', async () => {
    await backlog('channel:urgent', 1_000, 10);
    const fresh = await newChannels(5);
    const claimed = await claimTimes(3);
    expect(claimed.map((job) => job.rateKey)).toEqual(Array.from({ length: 30 }, () => 'channel:urgent'));
    expect(claimed.some((job) => fresh.includes(job.id))).toBe(false);
  });

  it('keep the key an enqueuer names, such as the egress address a transcript worker uses', async () => {
    const [video] = await videoFactory.createList(1);
    const [job] = await enqueueJobs(db(), [
      {
        jobType: 'transcript_extraction',
        entityType: 'video',
        entityId: video!.id,
        rateKey: 'egress:203.0.113.7',
      },
    ]);
    expect(job).toMatchObject({ rateKey: 'egress:203.0.113.7', fairRound: 0 });
  });
});
