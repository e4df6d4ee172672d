import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClaimedJob, createClient } from '../../src/client';
import { createLeaseKeeper, type LeaseKeeper, renewalRetryAt } from '../../src/worker/lease-keeper';
import { type FaultyProxy, jobIdsOf, type ProxiedRequest, startFaultyProxy } from '../support/faulty-proxy';
import { pendingTimers, spinning, timersArmedInASecond } from '../support/timers-armed';
import { until } from '../support/until';
import { discoveryJobs, useWorkerApi } from '../support/worker-api';

/**
 * The lease keeper on its own, renewing leases of jobs claimed from the real API through a proxy that can hold its
 * renewals in flight: when it renews, what it does while a renewal is out, and what a rejection or a close does.
 */
const api = useWorkerApi();
let proxy: FaultyProxy | undefined;
let keeper: LeaseKeeper | undefined;
afterEach(async () => {
  keeper?.close();
  keeper = undefined;
  await proxy?.close();
  proxy = undefined;
});

/** `count` jobs claimed from the API, and a keeper renewing leases of `leaseSeconds` through a proxy. */
async function keeperOfClaimedJobs(leaseSeconds: number, count = 1) {
  await discoveryJobs(count);
  const direct = createClient({ url: api.url });
  const jobs = await direct.jobs.claim.mutate({ workerId: 'keeper-under-test', limit: count, leaseSeconds });
  proxy = await startFaultyProxy(api.url);
  const lost: { job: ClaimedJob; reason: string }[] = [];
  const errors: Error[] = [];
  keeper = createLeaseKeeper({
    api: createClient({ url: proxy.url }),
    leaseSeconds,
    lost: (lostJob, reason) => lost.push({ job: lostJob, reason }),
    error: (error) => errors.push(error),
  });
  const renewals = () => renewalsAt(proxy!);
  return { jobs, job: jobs[0]!, direct, keeper, proxy, lost, errors, renewals };
}

const renewalsAt = (at: FaultyProxy) =>
  at.requests.filter((request) => jobIdsOf(request, 'jobs.heartbeat').length > 0);

/** Fails the renewal that reaches the proxy after `before` others with a 503 saying to try again in `seconds`. */
function failRenewalAfter(at: FaultyProxy, before: number, seconds: number) {
  at.retryAfter = String(seconds);
  at.decide = ({ calls }) =>
    calls.some((call) => call.procedure === 'jobs.heartbeat') && renewalsAt(at).length === before
      ? 'unavailable'
      : 'pass';
}

/** Waits until the API's response to `request` has been sent back, and a moment more for the keeper to read it. */
async function responded(request: ProxiedRequest) {
  await until(() => request.respondedAt !== undefined, 5_000);
  await sleep(100);
}

/** Holds every renewal at the proxy until `letThrough` is called. */
function holdRenewals(at: FaultyProxy) {
  let letThrough: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (letThrough = resolve));
  at.hold = ({ calls }) => (calls.some((call) => call.procedure === 'jobs.heartbeat') ? held : undefined);
  return () => letThrough();
}

describe('when a failed renewal is tried again', () => {
  const now = 1_000_000;
  it.each([
    {
      case: 'as told, when a third of what the lease has left is longer',
      left: 30_000,
      wanted: 5_000,
      at: 5_000,
    },
    { case: 'as told, when that is exactly a third of what is left', left: 15_000, wanted: 5_000, at: 5_000 },
    {
      case: 'within a third of what is left, when told to wait longer',
      left: 30_000,
      wanted: 60_000,
      at: 10_000,
    },
    { case: 'no sooner than a tenth of a second, however little is left', left: 150, wanted: 5_000, at: 100 },
    {
      case: 'no sooner than a tenth of a second, when told to try at once',
      left: 30_000,
      wanted: 0,
      at: 100,
    },
    { case: 'as told, once the lease has run out as the worker knows it', left: 0, wanted: 5_000, at: 5_000 },
    { case: 'as told, long after the lease ran out', left: -10_000, wanted: 2_000, at: 2_000 },
  ])('is tried $case', ({ left, wanted, at }) => {
    expect(renewalRetryAt(now, now + left, wanted) - now).toBe(at);
  });
});

describe('a lease keeper', () => {
  it('renews a lease a third of its length after it began, and not before the quarter of that it renews early', async () => {
    const { job, direct, keeper, renewals } = await keeperOfClaimedJobs(6);
    const heldAt = Date.now();
    keeper.hold(job);
    await until(() => renewals().length >= 2, 8_000);
    const [first, second] = renewals();
    // Every 2,000 ms, up to 500 ms early.
    expect(first!.at - heldAt).toBeGreaterThanOrEqual(1_500);
    expect(first!.at - heldAt).toBeLessThan(4_000);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_400);
    // Each renewal asks for the keeper's lease length, not the API's default of five minutes.
    const row = await direct.jobs.get.query({ id: job.id });
    expect(row.leaseExpiresAt!.getTime() - second!.at).toBeLessThan(10_000);
  });

  it('renews at once a lease that began a third of its length ago', async () => {
    const { job, keeper, renewals } = await keeperOfClaimedJobs(6);
    const heldAt = Date.now();
    keeper.hold(job, heldAt - 2_000);
    await until(() => renewals().length >= 1, 5_000);
    expect(renewals()[0]!.at - heldAt).toBeLessThan(1_000);
  });

  it('arms no timer in a loop once its last lease is let go', async () => {
    const { job, keeper, renewals } = await keeperOfClaimedJobs(6);
    keeper.hold(job);
    keeper.letGo(job.id);
    // Past the renewal the let-go lease was due for.
    await sleep(2_100);
    expect(await timersArmedInASecond()).toBeLessThan(spinning);
    expect(renewals()).toEqual([]);
  });

  it('arms no timer in a loop while a renewal is in flight', async () => {
    const { job, keeper, proxy, renewals, errors } = await keeperOfClaimedJobs(12);
    const letThrough = holdRenewals(proxy);
    keeper.hold(job, Date.now() - 4_000);
    await until(() => renewals().length === 1);
    expect(await timersArmedInASecond()).toBeLessThan(spinning);
    expect(renewals()).toHaveLength(1);
    letThrough();
    await responded(renewals()[0]!);
    expect(errors).toEqual([]);
  });

  it('arms no timer in a loop while it waits to renew', async () => {
    const { job, keeper } = await keeperOfClaimedJobs(12);
    keeper.hold(job);
    expect(await timersArmedInASecond()).toBeLessThan(spinning);
  });

  it('keeps one timer for all its leases, and none once closed', async () => {
    const { jobs, keeper } = await keeperOfClaimedJobs(12, 2);
    const before = pendingTimers();
    keeper.hold(jobs[0]!);
    keeper.hold(jobs[1]!, Date.now() - 1_000);
    expect(pendingTimers()).toBe(before + 1);
    keeper.close();
    expect(pendingTimers()).toBe(before);
  });

  it('renews together leases due within the quarter it renews early, and on its own one due later', async () => {
    const { jobs, keeper, renewals } = await keeperOfClaimedJobs(12, 3);
    const [first, withFirst, later] = jobs.map((job) => job.id);
    const now = Date.now();
    // Renewed every 4 s, up to 1 s early: due now, in 0.8 s, and in 2 s, halfway between the first two's renewals.
    keeper.hold(jobs[0]!, now - 4_000);
    keeper.hold(jobs[1]!, now - 3_200);
    keeper.hold(jobs[2]!, now - 2_000);
    await until(() => renewals().length >= 2, 6_000);
    expect(renewals().map((request) => jobIdsOf(request, 'jobs.heartbeat').sort())).toEqual([
      [first, withFirst].sort(),
      [later],
    ]);
  });

  it('sends no second renewal of a lease whose renewal is still in flight', async () => {
    const { jobs, keeper, proxy, renewals } = await keeperOfClaimedJobs(12, 2);
    const letThrough = holdRenewals(proxy);
    const now = Date.now();
    keeper.hold(jobs[0]!, now - 4_000);
    keeper.hold(jobs[1]!, now - 2_500);
    await until(() => renewals().length >= 2, 5_000);
    letThrough();
    expect(renewals().map((request) => jobIdsOf(request, 'jobs.heartbeat'))).toEqual([
      [jobs[0]!.id],
      [jobs[1]!.id],
    ]);
  });

  it('gives up on a renewal that hangs after a quarter of the lease, and tries again', async () => {
    const { job, keeper, proxy, renewals, errors } = await keeperOfClaimedJobs(6);
    holdRenewals(proxy);
    const heldAt = Date.now();
    keeper.hold(job, heldAt - 2_000);
    await until(() => renewals().length >= 2, 6_000);
    const [hung] = renewals();
    // A 6 s lease: given up on 1.5 s after it was sent, which was after it was held.
    expect(hung!.callerLeftAt! - heldAt).toBeGreaterThanOrEqual(1_450);
    expect(hung!.callerLeftAt! - hung!.at).toBeLessThan(3_000);
    expect(errors.length).toBeGreaterThanOrEqual(1);
  });

  it('reports a renewal that fails for a network reason, and keeps the lease, backing off more after each failure', async () => {
    const { job, keeper, proxy, renewals, errors, lost } = await keeperOfClaimedJobs(12);
    proxy.decide = ({ calls }) =>
      calls.some((call) => call.procedure === 'jobs.heartbeat') ? 'reset' : 'pass';
    keeper.hold(job, Date.now() - 4_000);
    await until(() => renewals().length >= 3, 5_000);
    proxy.decide = () => 'pass';
    const [first, second, third] = renewals();
    // Backoff: 200-300 ms after the first failure, 400-600 ms after the second.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(200);
    expect(third!.at - second!.at).toBeGreaterThanOrEqual(400);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(lost).toEqual([]);
  });

  it('waits as a failed renewal’s Retry-After says when the lease has time for it', async () => {
    const { job, keeper, proxy, renewals } = await keeperOfClaimedJobs(12);
    failRenewalAfter(proxy, 0, 2);
    keeper.hold(job, Date.now() - 4_000);
    await until(() => renewals().length >= 2, 6_000);
    const [failed, retried] = renewals();
    expect(retried!.at - failed!.at).toBeGreaterThanOrEqual(2_000);
  });

  // A lease of 12 s, whose renewal fails with 8 s left (as the keeper counts from its last renewal, which the
  // lease it was given would have ended long before): tried again within a third of that, not in a minute.
  it.each([
    { when: 'its first renewal fails', before: 0, heldAgo: 4_000 },
    { when: 'a renewal fails after one went through, counting from that one', before: 1, heldAgo: 11_000 },
  ])(
    'tries again within a third of what the lease has left when a longer Retry-After comes as $when',
    async ({ before, heldAgo }) => {
      const { job, keeper, proxy, renewals } = await keeperOfClaimedJobs(12);
      failRenewalAfter(proxy, before, 60);
      keeper.hold(job, Date.now() - heldAgo);
      await until(() => renewals().length >= before + 2, 12_000);
      const [failed, retried] = renewals().slice(before);
      expect(retried!.at - failed!.at).toBeLessThan(5_000);
    },
  );

  it('reports a lease lost once when the API rejects its renewal, and renews it no more', async () => {
    const { job, direct, keeper, lost, errors, renewals } = await keeperOfClaimedJobs(6);
    await direct.jobs.completeMany.mutate({ jobs: [{ id: job.id, leaseToken: job.leaseToken }] });
    keeper.hold(job, Date.now() - 2_000);
    await until(() => lost.length > 0, 5_000);
    await sleep(1_200);
    expect(lost.map((each) => each.job.id)).toEqual([job.id]);
    expect(renewals()).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('reports nothing lost when a renewal is rejected after its lease was let go', async () => {
    const { job, direct, keeper, proxy, lost, errors, renewals } = await keeperOfClaimedJobs(12);
    const letThrough = holdRenewals(proxy);
    keeper.hold(job, Date.now() - 4_000);
    await until(() => renewals().length === 1);
    // The job finishes while its renewal is out: the renewal then reaches the API, which rejects it.
    await direct.jobs.completeMany.mutate({ jobs: [{ id: job.id, leaseToken: job.leaseToken }] });
    keeper.letGo(job.id);
    letThrough();
    await responded(renewals()[0]!);
    expect({ lost, errors }).toEqual({ lost: [], errors: [] });
  });

  it('leaves alone the lease of a job claimed again when a renewal under its earlier lease is rejected', async () => {
    const { job, direct, keeper, proxy, lost, errors, renewals } = await keeperOfClaimedJobs(12);
    const letThrough = holdRenewals(proxy);
    keeper.hold(job, Date.now() - 4_000);
    await until(() => renewals().length === 1);
    // Released while its renewal is out, and claimed again under a new lease that the keeper now holds.
    await direct.jobs.release.mutate({ id: job.id, leaseToken: job.leaseToken });
    keeper.letGo(job.id);
    const [again] = await direct.jobs.claim.mutate({
      workerId: 'keeper-under-test',
      limit: 1,
      leaseSeconds: 12,
    });
    expect(again!.id).toBe(job.id);
    keeper.hold(again!);
    letThrough();
    await responded(renewals()[0]!);
    expect({ lost, errors }).toEqual({ lost: [], errors: [] });
  });

  it('renews no lease it is given once closed', async () => {
    const { job, keeper, renewals } = await keeperOfClaimedJobs(6);
    keeper.close();
    const before = pendingTimers();
    keeper.hold(job, Date.now() - 2_000);
    expect(pendingTimers()).toBe(before);
    await sleep(300);
    expect(renewals()).toEqual([]);
  });

  it('cuts off a renewal in flight when closed, and reports no error or loss for it', async () => {
    const { job, keeper, proxy, lost, errors, renewals } = await keeperOfClaimedJobs(12);
    const letThrough = holdRenewals(proxy);
    keeper.hold(job, Date.now() - 4_000);
    await until(() => renewals().length === 1);
    keeper.close();
    await until(() => renewals()[0]!.callerLeftAt !== undefined, 1_000);
    letThrough();
    await sleep(200);
    expect({ lost, errors }).toEqual({ lost: [], errors: [] });
  });
});
