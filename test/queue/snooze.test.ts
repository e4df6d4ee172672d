import request from 'supertest';
import { beforeEach, describe, expect, it } from 'vitest';
import { processingJobFactory } from '../../dev/factories';
import type { ProcessingJob } from '../../src/schemas/processing-job';
import { releaseJob, snoozeJob } from '../../src/queue/job-queue';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';
import { after, at, claimAt, resetFlowControl } from '../support/flow-control';

const db = () => testDatabase().db;
const api = useApi();

beforeEach(() => resetFlowControl(db()));

/** A transcript job claimed by one worker, with its video processing. */
async function claimedTranscript() {
  await processingJobFactory.create({ runAfter: at('2026-01-01T00:00:00Z'), attempts: 1, maxAttempts: 3 });
  const [job] = await claimAt(db(), undefined, 1);
  return job!;
}

const videoStatus = async (id: string) =>
  (await db()('videos').where({ id }).first<{ status: string }>('status')).status;

describe('a snooze', () => {
  it('queues the job again at the time its worker gives, its attempt unspent, with the reason and no error', async () => {
    const job = await claimedTranscript();
    expect(job.attempts).toBe(2);
    const later = at('2026-06-01T12:00:00Z');
    const snoozed = await api.mutate<ProcessingJob>('jobs.snooze', {
      id: job.id,
      leaseToken: job.leaseToken,
      runAfter: later,
      reason: 'the channel is live; its captions come after the stream',
    });
    expect(snoozed.status).toBe(200);
    expect(snoozed.data).toMatchObject({
      status: 'queued',
      attempts: 1,
      runAfter: later,
      waitReason: 'snoozed',
      waitDetail: 'the channel is live; its captions come after the stream',
      errorMessage: null,
      lockedBy: null,
      leaseExpiresAt: null,
    });
    expect(await videoStatus(job.entityId)).toBe('queued');
    expect(await claimAt(db(), after(later, -0.001))).toEqual([]);
    const [again] = await claimAt(db(), later);
    expect(again).toMatchObject({ id: job.id, attempts: 2, waitReason: null, waitDetail: null });
  });

  it('counts a delay from now, over REST as over tRPC', async () => {
    const job = await claimedTranscript();
    const before = Date.now();
    const rest = await request(api.app.server)
      .post(`/api/jobs/${job.id}/snooze`)
      .send({ leaseToken: job.leaseToken, delaySeconds: 90 });
    expect(rest.status).toBe(200);
    const runAfter = new Date(rest.body.runAfter as string).getTime();
    expect(runAfter).toBeGreaterThanOrEqual(Math.floor(before / 1_000) * 1_000 + 89_000);
    expect(runAfter).toBeLessThanOrEqual(Date.now() + 90_000);
    expect(rest.body).toMatchObject({ waitReason: 'snoozed', waitDetail: null, attempts: 1 });
  });

  it('counts a delay from the clock it is handed, and a delay of zero queues the job at once', async () => {
    const job = await claimedTranscript();
    const clock = at('2026-06-01T12:00:00Z');
    const snoozed = await snoozeJob(db(), { id: job.id, leaseToken: job.leaseToken, delaySeconds: 0 }, clock);
    expect(snoozed.runAfter).toEqual(clock);
    expect(await claimAt(db(), clock)).toHaveLength(1);
  });

  it('is fenced by the lease: a wrong or spent lease token is rejected and changes nothing', async () => {
    const job = await claimedTranscript();
    const wrong = await api.mutate('jobs.snooze', {
      id: job.id,
      leaseToken: '00000000-0000-4000-8000-000000000001',
      delaySeconds: 60,
    });
    expect(wrong.status).toBe(409);
    expect(wrong.error?.data.field).toBe('leaseToken');
    expect((await api.query<ProcessingJob>('jobs.get', { id: job.id })).data).toMatchObject({
      status: 'running',
      attempts: 2,
    });
    await api.mutate('jobs.snooze', { id: job.id, leaseToken: job.leaseToken, delaySeconds: 60 });
    const spent = await api.mutate('jobs.snooze', {
      id: job.id,
      leaseToken: job.leaseToken,
      delaySeconds: 60,
    });
    expect(spent.status).toBe(409);
    expect(spent.error?.message).toBe('the job is queued');
    expect((await api.mutate('jobs.complete', { id: job.id, leaseToken: job.leaseToken })).status).toBe(409);
  });

  it('takes a time or a delay, one of the two, within the schedule horizon', async () => {
    const job = await claimedTranscript();
    const lease = { id: job.id, leaseToken: job.leaseToken };
    for (const [input, field] of [
      [{ ...lease }, 'runAfter'],
      [{ ...lease, delaySeconds: 10, runAfter: new Date() }, 'runAfter'],
      [{ ...lease, delaySeconds: -1 }, 'delaySeconds'],
      [{ ...lease, delaySeconds: 366 * 86_400 + 1 }, 'delaySeconds'],
      [{ ...lease, delaySeconds: 1, reason: ' ' }, 'reason'],
    ] as const) {
      const rejected = await api.mutate('jobs.snooze', input);
      expect(rejected.status, JSON.stringify(input)).toBe(400);
      expect(rejected.error?.data.field, JSON.stringify(input)).toBe(field);
    }
    expect((await api.mutate('jobs.snooze', { ...lease, delaySeconds: 366 * 86_400 })).status).toBe(200);
  });
});

describe('a release', () => {
  it('queues the job again as of the moment it is released, not of when it first fell due', async () => {
    const job = await claimedTranscript();
    const { rows } = await db().raw<{ rows: { now: Date }[] }>('SELECT now()');
    const released = await releaseJob(db(), { id: job.id, leaseToken: job.leaseToken });
    expect(released).toMatchObject({ status: 'queued', waitReason: null });
    expect(released.runAfter.getTime()).toBeGreaterThanOrEqual(rows[0]!.now.getTime());
  });
});
