import { beforeEach, describe, expect, it } from 'vitest';
import { processingJobFactory, videoFactory } from '../../dev/factories';
import type { ClaimedJob, FailureKind, ProcessingJob } from '../../src/schemas/processing-job';
import type { RateKey } from '../../src/schemas/rate-key';
import { listRateKeys, setRateKey } from '../../src/queue/rate-limits';
import { completeJob, failJob } from '../../src/queue/job-queue';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';
import { after, at, claimAt, queuedDiscoveries, resetFlowControl } from '../support/flow-control';

const db = () => testDatabase().db;
const api = useApi();

beforeEach(() => resetFlowControl(db()));

const egress = 'egress:203.0.113.7';
const start = at('2026-06-01T12:00:00Z');

const fail = (
  job: ClaimedJob,
  clock: Date,
  kind: FailureKind,
  extra: { retryAfterSeconds?: number; scope?: 'key' | 'type' } = {},
) =>
  failJob(
    db(),
    {
      id: job.id,
      leaseToken: job.leaseToken,
      error: `YouTube said ${kind}`,
      retryable: true,
      kind,
      ...extra,
    },
    clock,
  );

const keyAt = async (clock: Date, key = egress): Promise<RateKey | undefined> =>
  (await listRateKeys(db(), { limit: 100 }, clock)).items.find((row) => row.key === key);

const keysOf = (jobs: readonly ClaimedJob[]) => jobs.map((job) => job.rateKey).sort();

describe('a rate-limited failure', () => {
  it("defers the job by its retry-after without spending the attempt, and holds back its key's other jobs as long", async () => {
    await queuedDiscoveries(3, { rateKey: egress });
    await queuedDiscoveries(1, { rateKey: 'egress:198.51.100.9' });
    const [job] = await claimAt(db(), start, 1, ['channel_discovery']);
    expect(job!.rateKey).toBe(egress);
    const deferred = await fail(job!, start, 'rate_limited', { retryAfterSeconds: 120 });
    expect(deferred).toMatchObject({
      status: 'queued',
      attempts: 0,
      runAfter: after(start, 120),
      waitReason: 'rate_limited',
      waitDetail: 'YouTube said rate_limited',
      errorMessage: null,
    });
    expect(await keyAt(start)).toMatchObject({
      cooldownUntil: after(start, 120),
      rateLimitedInARow: 1,
      breaker: 'closed',
      breakerUntil: null,
    });
    expect(keysOf(await claimAt(db(), after(start, 119.999)))).toEqual(['egress:198.51.100.9']);
    expect(keysOf(await claimAt(db(), after(start, 120)))).toEqual([egress, egress, egress]);
  });

  it('cools the whole type down with scope type, 60 seconds without a retry-after', async () => {
    await queuedDiscoveries(2);
    await processingJobFactory.create({ runAfter: at('2026-01-01T00:00:00Z') });
    const [job] = await claimAt(db(), start, 1, ['channel_discovery']);
    const deferred = await fail(job!, start, 'rate_limited', { scope: 'type' });
    expect(deferred.runAfter).toEqual(after(start, 60));
    expect(await db()('job_types').where('name', 'channel_discovery').first('cooldown_until')).toEqual({
      cooldown_until: after(start, 60),
    });
    expect((await claimAt(db(), after(start, 59.999))).map((j) => j.jobType)).toEqual([
      'transcript_extraction',
    ]);
    expect(await claimAt(db(), after(start, 60))).toHaveLength(2);
  });
});

describe('a shorter rate limit reported while one runs', () => {
  it("keeps the key's longer cool-down, and defers its job until then", async () => {
    await queuedDiscoveries(3, { rateKey: egress });
    const [first, second] = await claimAt(db(), start, 2);
    await fail(first!, start, 'rate_limited', { retryAfterSeconds: 300 });
    const deferred = await fail(second!, after(start, 10), 'rate_limited', { retryAfterSeconds: 60 });
    expect(deferred.runAfter).toEqual(after(start, 300));
    expect((await keyAt(after(start, 70)))?.cooldownUntil).toEqual(after(start, 300));
    expect(await claimAt(db(), after(start, 299.999))).toEqual([]);
  });

  it("keeps the type's longer cool-down, and defers its job until then", async () => {
    await queuedDiscoveries(3);
    const [first, second] = await claimAt(db(), start, 2);
    await fail(first!, start, 'rate_limited', { retryAfterSeconds: 300, scope: 'type' });
    const deferred = await fail(second!, after(start, 10), 'rate_limited', {
      retryAfterSeconds: 60,
      scope: 'type',
    });
    expect(deferred.runAfter).toEqual(after(start, 300));
    expect(await claimAt(db(), after(start, 299.999))).toEqual([]);
  });
});

describe('a rate limit on a video’s job', () => {
  it('queues the video again without counting a retry or an error on it', async () => {
    const video = await videoFactory.trait('queued').create();
    await processingJobFactory.create({ entityId: video.id, runAfter: at('2026-01-01T00:00:00Z') });
    const [job] = await claimAt(db(), start);
    expect((await fail(job!, start, 'rate_limited')).status).toBe('queued');
    expect(
      await db()('videos').where('id', video.id).first('status', 'error_message', 'retry_count'),
    ).toEqual({
      status: 'queued',
      error_message: null,
      retry_count: video.retryCount,
    });
  });
});

describe('a permanent failure', () => {
  it('fails the job at once with its reason, whatever attempts remain, and its video with it', async () => {
    const video = await videoFactory.trait('queued').create();
    await processingJobFactory.create({
      entityId: video.id,
      runAfter: at('2026-01-01T00:00:00Z'),
      maxAttempts: 5,
    });
    const [job] = await claimAt(db(), undefined);
    const failed = await api.mutate<ProcessingJob>('jobs.fail', {
      id: job!.id,
      leaseToken: job!.leaseToken,
      error: 'Transcripts are disabled for this video',
      kind: 'permanent',
    });
    expect(failed.data).toMatchObject({
      status: 'failed',
      attempts: 1,
      errorMessage: 'Transcripts are disabled for this video',
      waitReason: null,
    });
    expect(
      await db()('videos').where('id', job!.entityId).first('status', 'error_message', 'retry_count'),
    ).toEqual({
      status: 'failed',
      error_message: 'Transcripts are disabled for this video',
      retry_count: 1,
    });
  });
});

describe('any other failure', () => {
  it('is retried with backoff, spending the attempt and showing that the job waits for a retry', async () => {
    await queuedDiscoveries(1);
    const [job] = await claimAt(db(), start);
    const retried = await fail(job!, start, 'error');
    expect(retried).toMatchObject({
      status: 'queued',
      attempts: 1,
      waitReason: 'retry',
      errorMessage: 'YouTube said error',
    });
    expect(retried.runAfter.getTime() - start.getTime()).toBeGreaterThanOrEqual(8_000);
    expect(retried.runAfter.getTime() - start.getTime()).toBeLessThanOrEqual(12_000);
  });

  it('rejects a retry-after or a scope on anything but a rate limit, and a rate limit or spent budget that is final', async () => {
    await queuedDiscoveries(1);
    const [job] = await claimAt(db(), undefined);
    const lease = { id: job!.id, leaseToken: job!.leaseToken, error: 'x' };
    for (const [input, field] of [
      [{ ...lease, retryAfterSeconds: 5 }, 'retryAfterSeconds'],
      [{ ...lease, kind: 'permanent', scope: 'key' }, 'scope'],
      [{ ...lease, kind: 'rate_limited', retryable: false }, 'retryable'],
      [{ ...lease, kind: 'quota_exhausted', retryable: false }, 'retryable'],
      [{ ...lease, kind: 'rate_limited', retryAfterSeconds: 0 }, 'retryAfterSeconds'],
      [{ ...lease, kind: 'rate_limited', retryAfterSeconds: 86_401 }, 'retryAfterSeconds'],
      [{ ...lease, kind: 'banned' }, 'kind'],
    ] as const) {
      const rejected = await api.mutate('jobs.fail', input);
      expect(rejected.status, JSON.stringify(input)).toBe(400);
      expect(rejected.error?.data.field, JSON.stringify(input)).toBe(field);
    }
    const edge = await api.mutate<ProcessingJob>('jobs.fail', {
      ...lease,
      kind: 'rate_limited',
      retryAfterSeconds: 86_400,
    });
    expect(edge.data.waitReason).toBe('rate_limited');
  });
});

describe("a key's breaker", () => {
  const cooldown = 300;

  /** Claims one job of the key at `clock` and reports it rate-limited for a second. */
  async function rateLimitOne(clock: Date): Promise<RateKey> {
    const [job] = await claimAt(db(), clock, 1);
    expect(job?.rateKey).toBe(egress);
    await fail(job!, clock, 'rate_limited', { retryAfterSeconds: 1 });
    return (await keyAt(clock))!;
  }

  beforeEach(async () => {
    await queuedDiscoveries(8, { rateKey: egress });
    await setRateKey(db(), {
      key: egress,
      maxStarts: null,
      breakerThreshold: 3,
      breakerCooldownSeconds: cooldown,
    });
  });

  it('opens at the third rate limit in a row, lets one probe through after its cool-down, and closes on its success', async () => {
    expect(await rateLimitOne(start)).toMatchObject({ rateLimitedInARow: 1, breaker: 'closed' });
    expect(await rateLimitOne(after(start, 2))).toMatchObject({ rateLimitedInARow: 2, breaker: 'closed' });
    const opened = after(start, 4);
    const [third] = await claimAt(db(), opened, 1);
    const deferred = await fail(third!, opened, 'rate_limited', { retryAfterSeconds: 1 });
    expect(deferred.runAfter).toEqual(after(opened, cooldown));
    expect(await keyAt(opened)).toMatchObject({
      rateLimitedInARow: 3,
      breaker: 'open',
      breakerUntil: after(opened, cooldown),
    });
    expect(await claimAt(db(), after(opened, cooldown - 0.001))).toEqual([]);

    const probeAt = after(opened, cooldown);
    const [probe, ...more] = await claimAt(db(), probeAt);
    expect(more).toEqual([]);
    expect(await keyAt(probeAt)).toMatchObject({ breaker: 'half_open', breakerUntil: after(probeAt, 60) });
    expect(await claimAt(db(), after(probeAt, 1))).toEqual([]);

    await completeJob(db(), { id: probe!.id, leaseToken: probe!.leaseToken, result: null });
    expect(await keyAt(probeAt)).toMatchObject({
      rateLimitedInARow: 0,
      breaker: 'closed',
      breakerUntil: null,
    });
    expect(await claimAt(db(), after(probeAt, 2))).toHaveLength(7);
  });

  it('opens again when its probe is rate-limited, and lets another probe through when one outlives its lease', async () => {
    for (const seconds of [0, 2, 4]) await rateLimitOne(after(start, seconds));
    const probeAt = after(start, 4 + cooldown);
    const [probe] = await claimAt(db(), probeAt);
    await fail(probe!, probeAt, 'rate_limited', { retryAfterSeconds: 1 });
    expect(await keyAt(probeAt)).toMatchObject({
      rateLimitedInARow: 4,
      breaker: 'open',
      breakerUntil: after(probeAt, cooldown),
    });

    const secondProbeAt = after(probeAt, cooldown);
    expect(await claimAt(db(), secondProbeAt)).toHaveLength(1);
    // Its worker says nothing until its lease is over: the next claim sends another probe.
    expect(await claimAt(db(), after(secondProbeAt, 59.999))).toEqual([]);
    expect(await claimAt(db(), after(secondProbeAt, 60))).toHaveLength(1);
  });
});
