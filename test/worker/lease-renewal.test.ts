import { afterEach, describe, expect, it } from 'vitest';
import { retryAfterSeconds } from '../../src/api/error-shape';
import { createTestWorker } from '../support/test-worker';
import { type Fault, type FaultyProxy, jobIdsOf, slowDown, startFaultyProxy } from '../support/faulty-proxy';
import { testDatabase } from '../support/database';
import { until } from '../support/until';
import { discoveryJobs, jobRow, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/**
 * Runs one job whose handler takes `workMs` (longer than a lease) through a worker calling the API through the
 * proxy, while a second worker waits for work at the API itself: the API wakes a waiting claim the moment a lease
 * runs out, so any lapse of the first worker's lease hands the job to the second.
 */
async function longJobBesideAnotherWorker(workMs: number, leaseSeconds: number) {
  const [job] = await discoveryJobs(1, 3);
  let aborted = false;
  const leaseLost: string[] = [];
  const errors: Error[] = [];
  const worker = createTestWorker({
    url: proxy!.url,
    concurrency: 1,
    waitMs: 200,
    leaseSeconds,
    tasks: {
      channel_discovery: async (_job, { signal }) => {
        signal.addEventListener('abort', () => (aborted = true));
        await new Promise((resolve) => setTimeout(resolve, workMs));
        return { ok: true };
      },
    },
    hooks: { leaseLost: (lost) => leaseLost.push(lost.id), error: (error) => errors.push(error) },
  });
  const takenOver: string[] = [];
  const other = createTestWorker({
    url: api.url,
    concurrency: 1,
    waitMs: 10_000,
    leaseSeconds,
    tasks: {
      channel_discovery: (claimed) => {
        takenOver.push(claimed.id);
        return null;
      },
    },
  });
  worker.start();
  await until(async () => (await jobRow(job!.id)).status === 'running');
  other.start();
  await until(async () => (await jobRow(job!.id)).status !== 'running', workMs + 10_000);
  await Promise.all([worker.stop(), other.stop()]);
  const heartbeats = proxy!.requests.filter((request) =>
    jobIdsOf(request, 'jobs.heartbeat').includes(job!.id),
  );
  return { job: job!, aborted, leaseLost, errors, takenOver, heartbeats };
}

/**
 * Runs one job through a worker calling the API through the proxy until `renewals` of its lease have reached the
 * proxy, each held `slowMs` before the API sees it and met with the fault `faults` picks by its place (1 for the
 * first); returns them as the proxy saw them.
 */
async function renewalsOfOneJob(run: {
  leaseSeconds: number;
  renewals: number;
  faults?: (nth: number) => Fault;
  slowMs?: number;
}) {
  const [job] = await discoveryJobs(1);
  proxy = await startFaultyProxy(api.url);
  const heartbeats = () =>
    proxy!.requests.filter((request) => jobIdsOf(request, 'jobs.heartbeat').includes(job!.id));
  const { faults = () => 'pass', slowMs } = run;
  proxy.decide = (request) =>
    jobIdsOf(request, 'jobs.heartbeat').includes(job!.id) ? faults(heartbeats().length + 1) : 'pass';
  if (slowMs) slowDown(proxy, 'jobs.heartbeat', slowMs);
  const worker = createTestWorker({
    url: proxy.url,
    concurrency: 1,
    waitMs: 200,
    leaseSeconds: run.leaseSeconds,
    tasks: {
      channel_discovery: async () => {
        await until(() => heartbeats().length >= run.renewals, 20_000);
        return null;
      },
    },
  });
  try {
    worker.start();
    await until(async () => (await jobRow(job!.id)).status === 'completed', 25_000);
  } finally {
    await worker.stop();
  }
  return heartbeats();
}

/**
 * Two jobs held by one worker (behind the proxy), the second queued `apartMs` after the first started; returns
 * their ids and the jobs each renewal request named, once `renewals` of them have reached the proxy.
 */
async function twoJobsClaimedApart(run: { leaseSeconds: number; apartMs: number; renewals: number }) {
  const [first] = await discoveryJobs(1);
  proxy = await startFaultyProxy(api.url);
  let running = 0;
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const worker = createTestWorker({
    url: proxy.url,
    concurrency: 2,
    waitMs: 200,
    leaseSeconds: run.leaseSeconds,
    tasks: {
      channel_discovery: async () => {
        running += 1;
        await gate;
        return null;
      },
    },
  });
  const renewals = () =>
    proxy!.requests
      .map((request) => jobIdsOf(request, 'jobs.heartbeat'))
      .filter((jobIds) => jobIds.length > 0);
  try {
    worker.start();
    await until(() => running === 1);
    await new Promise((resolve) => setTimeout(resolve, run.apartMs));
    const [second] = await discoveryJobs(1);
    await until(() => running === 2);
    await until(() => renewals().length >= run.renewals, 15_000);
    open();
    await worker.stop();
    return { first: first!.id, second: second!.id, renewals: renewals() };
  } finally {
    open();
    await worker.stop();
  }
}

describe('a worker renewing its leases', () => {
  it('renews a running job’s lease every third of it, so a job running past its lease is never taken over', async () => {
    proxy = await startFaultyProxy(api.url);
    const run = await longJobBesideAnotherWorker(5_000, 2);

    expect(run.takenOver).toEqual([]);
    expect(run.aborted).toBe(false);
    expect(run.leaseLost).toEqual([]);
    expect(await jobRow(run.job.id)).toMatchObject({
      status: 'completed',
      attempts: 1,
      result: { ok: true },
    });
    // Five seconds at a renewal per two-thirds of a second: seven, where one per lease would make two.
    expect(run.heartbeats.length).toBeGreaterThanOrEqual(5);
  }, 30_000);

  it('keeps a lease whose renewals fail for a network reason, trying again well before it runs out', async () => {
    proxy = await startFaultyProxy(api.url);
    let renewals = 0;
    // Two renewal calls of every three fail: 503 as the database restarts, then a reset connection.
    proxy.decide = ({ calls }) =>
      calls.some((call) => call.procedure === 'jobs.heartbeat')
        ? (['unavailable', 'reset', 'pass'] as const)[renewals++ % 3]!
        : 'pass';
    // Six seconds, so each renewal's failures (a 503 takes a quarter of a second to come) leave seconds to spare on
    // a loaded machine.
    const run = await longJobBesideAnotherWorker(12_000, 6);

    expect(run.takenOver).toEqual([]);
    expect(run.aborted).toBe(false);
    expect(run.leaseLost).toEqual([]);
    expect(await jobRow(run.job.id)).toMatchObject({ status: 'completed', attempts: 1 });
    expect(run.heartbeats.filter((request) => request.fault !== 'pass').length).toBeGreaterThanOrEqual(2);
    expect(run.errors.length).toBeGreaterThanOrEqual(2);
  }, 30_000);

  it('gives up on a renewal that hangs, and renews the lease again before it runs out', async () => {
    proxy = await startFaultyProxy(api.url);
    let renewals = 0;
    // The first renewal never gets a response: a connection a load balancer holds open.
    proxy.hold = ({ calls }) =>
      calls.some((call) => call.procedure === 'jobs.heartbeat') && renewals++ === 0
        ? new Promise<void>(() => undefined)
        : undefined;
    // Six seconds: renewed every two, a renewal given up on after a second and a half.
    const run = await longJobBesideAnotherWorker(8_000, 6);

    expect(run.takenOver).toEqual([]);
    expect(run.leaseLost).toEqual([]);
    expect(await jobRow(run.job.id)).toMatchObject({ status: 'completed', attempts: 1 });
    // The one that hung, then renewals that went through.
    expect(run.heartbeats.length).toBeGreaterThanOrEqual(3);
  }, 30_000);

  it('waits up to a quarter of the lease for a slow renewal rather than give up on it at once', async () => {
    proxy = await startFaultyProxy(api.url);
    // Every renewal responds a second and a half late: slow, but within a quarter of a twelve-second lease.
    slowDown(proxy, 'jobs.heartbeat', 1_500);
    const [job] = await discoveryJobs(1);
    const leaseRow = () => testDatabase().db('processing_jobs').where({ id: job!.id }).first();
    const errors: Error[] = [];
    let claimedUntil: Date | undefined;
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 200,
      leaseSeconds: 12,
      tasks: {
        channel_discovery: async () => {
          claimedUntil = (await leaseRow()).lease_expires_at as Date;
          // The first renewal goes out at four seconds and lands a second and a half later.
          await until(async () => (await leaseRow()).lease_expires_at > claimedUntil!, 15_000);
          return null;
        },
      },
      hooks: { error: (error) => errors.push(error) },
    });
    try {
      worker.start();
      await until(async () => (await jobRow(job!.id)).status === 'completed', 20_000);
    } finally {
      await worker.stop();
    }

    expect(errors).toEqual([]);
  }, 30_000);

  it('keeps renewing a lease when the job that was due to be renewed before it finished first', async () => {
    const [quick] = await discoveryJobs(1);
    let startLong: () => void = () => undefined;
    const longStarted = new Promise<void>((resolve) => (startLong = resolve));
    const takenOver: string[] = [];
    const leaseLost: string[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 2,
      waitMs: 200,
      leaseSeconds: 3,
      tasks: {
        // The first job runs until the second starts, half a second later, and finishes before its own renewal
        // is due; the second, due for renewal after the first would have been, runs past its lease.
        channel_discovery: async (job) => {
          if (job.id === quick!.id) await longStarted;
          else {
            startLong();
            await new Promise((resolve) => setTimeout(resolve, 4_500));
          }
          return null;
        },
      },
      hooks: { leaseLost: (lost) => leaseLost.push(lost.id) },
    });
    const other = createTestWorker({
      url: api.url,
      concurrency: 1,
      waitMs: 10_000,
      leaseSeconds: 3,
      tasks: { channel_discovery: (job) => (takenOver.push(job.id), null) },
    });
    try {
      worker.start();
      await until(async () => (await jobRow(quick!.id)).status === 'running');
      await new Promise((resolve) => setTimeout(resolve, 500));
      const [long] = await discoveryJobs(1);
      await until(async () => (await jobRow(quick!.id)).status === 'completed');
      other.start();
      await until(async () => (await jobRow(long!.id)).status === 'completed', 15_000);
      expect(await jobRow(long!.id)).toMatchObject({ attempts: 1, locked_by: worker.workerId });
    } finally {
      startLong();
      await Promise.all([worker.stop(), other.stop()]);
    }
    expect(takenOver).toEqual([]);
    expect(leaseLost).toEqual([]);
  }, 30_000);

  it('renews a lease in time even when a failed renewal’s retry-after is longer than the lease has left', async () => {
    proxy = await startFaultyProxy(api.url);
    // A load balancer asks to come back in ten seconds, past the end of the six-second lease.
    proxy.retryAfter = '10';
    let failed = false;
    proxy.decide = ({ calls }) => {
      if (failed || !calls.some((call) => call.procedure === 'jobs.heartbeat')) return 'pass';
      failed = true;
      return 'unavailable';
    };
    const run = await longJobBesideAnotherWorker(8_000, 6);

    expect(failed).toBe(true);
    expect(run.takenOver).toEqual([]);
    expect(run.leaseLost).toEqual([]);
    expect(await jobRow(run.job.id)).toMatchObject({ status: 'completed', attempts: 1 });
  }, 30_000);

  it('counts what a renewed lease has left from its last renewal when a later renewal fails with a long retry-after', async () => {
    proxy = await startFaultyProxy(api.url);
    proxy.retryAfter = '10';
    let renewals = 0;
    // Three renewals go through; the fourth, past the end of the lease as first claimed, meets a load balancer
    // asking to come back past the end of the lease as last renewed.
    proxy.decide = ({ calls }) =>
      calls.some((call) => call.procedure === 'jobs.heartbeat') && ++renewals === 4 ? 'unavailable' : 'pass';
    const run = await longJobBesideAnotherWorker(12_000, 6);

    expect(renewals).toBeGreaterThanOrEqual(5);
    expect(run.takenOver).toEqual([]);
    expect(run.leaseLost).toEqual([]);
    expect(await jobRow(run.job.id)).toMatchObject({ status: 'completed', attempts: 1 });
  }, 30_000);

  it('waits as a failed renewal’s retry-after says before renewing again, when the lease has time for it', async () => {
    const [failed, next] = await renewalsOfOneJob({
      leaseSeconds: 6,
      renewals: 2,
      faults: (nth) => (nth === 1 ? 'unavailable' : 'pass'),
    });

    expect(failed!.fault).toBe('unavailable');
    expect(next!.at - failed!.at).toBeGreaterThanOrEqual(Number(retryAfterSeconds) * 1_000);
  }, 30_000);

  it('starts its backoff over after a renewal goes through, so a later failed renewal is retried within moments', async () => {
    // A nine-second lease, renewed every three seconds: three renewals fail in a row (their waits growing to a
    // second), the fourth goes through, the fifth fails.
    const seen = await renewalsOfOneJob({
      leaseSeconds: 9,
      renewals: 6,
      faults: (nth) => ([1, 2, 3, 5].includes(nth) ? 'reset' : 'pass'),
    });

    expect(seen.map((request) => request.fault)).toEqual([
      'reset',
      'reset',
      'reset',
      'pass',
      'reset',
      'pass',
    ]);
    // A first failure waits a quarter of a second, give or take a fifth; a fourth in a row would wait about two.
    expect(seen[5]!.at - seen[4]!.at).toBeLessThan(1_200);
  }, 30_000);

  it('renews a lease again a third of it after the last renewal was sent, however late that one responded', async () => {
    // A nine-second lease, renewed every three seconds; each renewal is held a second before the API sees it (a
    // renewal is given up on after 2.25 s).
    const seen = await renewalsOfOneJob({ leaseSeconds: 9, renewals: 3, slowMs: 1_000 });

    const gaps = [seen[1]!.at - seen[0]!.at, seen[2]!.at - seen[1]!.at];
    // Three seconds from one sent to the next; counted from the response, four.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(2_900);
    for (const gap of gaps) expect(gap).toBeLessThan(3_700);
  }, 30_000);

  it('renews a lease for the lease’s own length, not the longer one the API gives by default', async () => {
    const [job] = await discoveryJobs(1);
    let left: number | undefined;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      waitMs: 200,
      leaseSeconds: 2,
      tasks: {
        channel_discovery: async () => {
          const claimed = (await jobRow(job!.id)).lease_expires_at as Date;
          await until(async () => (await jobRow(job!.id)).lease_expires_at > claimed);
          const { rows } = await testDatabase().db.raw<{ rows: { left: number }[] }>(
            'SELECT extract(epoch FROM lease_expires_at - now())::float AS left FROM processing_jobs WHERE id = ?',
            [job!.id],
          );
          left = rows[0]!.left;
          return null;
        },
      },
    });
    try {
      worker.start();
      await until(() => left !== undefined);
      await worker.stop();
    } finally {
      await worker.stop();
    }

    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(2);
  });

  it('stops renewing a job’s lease once the API has acknowledged its outcome', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    const heartbeats = () =>
      proxy!.requests.filter((request) => jobIdsOf(request, 'jobs.heartbeat').includes(job!.id)).length;
    let renewalsBeforeCompletion: number | undefined;
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 200,
      leaseSeconds: 3,
      tasks: {
        // Finishes right after a renewal went out, a whole renewal period before the next would be due.
        channel_discovery: async () => {
          await until(() => heartbeats() > 0);
          return null;
        },
      },
      hooks: { completed: () => (renewalsBeforeCompletion = heartbeats()) },
    });
    try {
      worker.start();
      await until(() => renewalsBeforeCompletion !== undefined);
      // Longer than the renewal period of a second.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await worker.stop();
    } finally {
      await worker.stop();
    }

    expect(renewalsBeforeCompletion).toBe(1);
    expect(heartbeats()).toBe(1);
  });

  it('renews the leases of jobs claimed moments apart together, in one request', async () => {
    // Renewed every two seconds, and up to half a second early to share a request. The worker's waiting claim
    // takes the second job as soon as it is queued, a moment after the first.
    const { first, second, renewals } = await twoJobsClaimedApart({
      leaseSeconds: 6,
      apartMs: 0,
      renewals: 1,
    });
    expect(renewals[0]!.sort()).toEqual([first, second].sort());
  }, 30_000);

  it('renews on its own a lease claimed well after another’s, not early with it', async () => {
    // Renewed every four seconds, and up to one early to share a request. Claimed about two seconds after the
    // first, the second's renewals fall midway between the first's, a second or more from each (within one second
    // it would share the first's request; from three, the first's next would join it).
    const { first, second, renewals } = await twoJobsClaimedApart({
      leaseSeconds: 12,
      apartMs: 1_900,
      renewals: 2,
    });
    expect(renewals.slice(0, 2)).toEqual([[first], [second]]);
  }, 30_000);
});
