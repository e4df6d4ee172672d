import { afterEach, describe, expect, it } from 'vitest';
import { channelFactory } from '../../dev/factories';
import { createTestWorker } from '../support/test-worker';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from '../support/database';
import { type Fault, type FaultyProxy, jobIdsOf, slowDown, startFaultyProxy } from '../support/faulty-proxy';
import { until } from '../support/until';
import { discoveryJobs, jobRow, jobRows, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

const claimsOf = (faulty: FaultyProxy) =>
  faulty.requests.filter((request) => request.calls.some((call) => call.procedure === 'jobs.claim'));

/** Resolves `ms` after `from` (a `Date.now()` time): steps of a test timed from the worker's first claim. */
const after = (from: number, ms: number) =>
  new Promise((resolve) => setTimeout(resolve, from + ms - Date.now()));

/** A handler's work that lasts until the test lets it end. */
function gate() {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe('a worker claiming ahead', () => {
  it('claims as many jobs again as it has slots, and starts them as slots free, each once', async () => {
    const jobs = await discoveryJobs(12);
    const claimSizes: number[] = [];
    const runs = new Map<string, number>();
    let running = 0;
    let most = 0;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 3,
      waitMs: 200,
      tasks: {
        channel_discovery: async (job) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          running += 1;
          most = Math.max(most, running);
          // Long enough (20 starts a second) that the pace asks for no more than a slot's worth waiting.
          await new Promise((resolve) => setTimeout(resolve, 150));
          running -= 1;
          return null;
        },
      },
      hooks: { claimed: (claimed) => claimSizes.push(claimed.length) },
    });
    worker.start();
    await until(async () =>
      (await jobRows(jobs.map((job) => job.id))).every((row) => row.status === 'completed'),
    );
    await worker.stop();
    expect(claimSizes[0]).toBe(6);
    expect(Math.max(...claimSizes)).toBeLessThanOrEqual(6);
    expect(most).toBe(3);
    expect([...runs.values()]).toEqual(jobs.map(() => 1));
  });

  it('grows its local queue past its slots while short jobs run, in claims of at most a hundred, each job once', async () => {
    const jobs = await discoveryJobs(600);
    const claimSizes: number[] = [];
    const runs = new Map<string, number>();
    const worker = createTestWorker({
      url: api.url,
      concurrency: 2,
      waitMs: 200,
      tasks: {
        channel_discovery: (job) => {
          runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
          return null;
        },
      },
      hooks: { claimed: (claimed) => claimSizes.push(claimed.length) },
    });
    worker.start();
    await until(() => runs.size === jobs.length, 20_000);
    await worker.stop();
    // A queue fixed at its slots' size would claim four at most (two running, two waiting).
    expect(claimSizes[0]).toBe(4);
    expect(Math.max(...claimSizes)).toBeGreaterThan(4);
    expect(Math.max(...claimSizes)).toBeLessThanOrEqual(100);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
  });

  it('grows its local queue to cover a slow API’s claim round trips at the handlers’ pace', async () => {
    const jobs = await discoveryJobs(500);
    proxy = await startFaultyProxy(api.url);
    // Each claim takes about a third of a second; one slot runs a job every ten milliseconds or so.
    slowDown(proxy, 'jobs.claim', 300);
    const claimSizes: number[] = [];
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 200,
      tasks: { channel_discovery: () => new Promise((resolve) => setTimeout(() => resolve(null), 10)) },
      hooks: { claimed: (claimed) => claimSizes.push(claimed.length) },
    });
    try {
      worker.start();
      await until(() => claimSizes.reduce((sum, size) => sum + size, 0) === jobs.length, 20_000);
    } finally {
      await worker.stop();
    }
    // Four round trips of about 310 ms at about 0.1 starts per millisecond hold some 120 jobs, claimed half at a
    // time (claims settle near sixty, fewer when timers run late: fifteen when they run four times late). Covering
    // only the tenth of a second the queue holds at least, it would hold eleven at most, since one slot starts at
    // most a job per ten milliseconds.
    expect(Math.max(...claimSizes)).toBeGreaterThanOrEqual(15);
  }, 30_000);

  it('sizes its local queue by claims’ round trips, not by the wait of a claim that waited for work', async () => {
    const claimSizes: number[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      waitMs: 5_000,
      tasks: { channel_discovery: () => new Promise((resolve) => setTimeout(() => resolve(null), 10)) },
      hooks: { claimed: (claimed) => claimSizes.push(claimed.length) },
    });
    try {
      worker.start();
      // Its first claim waits for work for a second and a half (past the one second a round trip counts at most),
      // then comes back full.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const jobs = await discoveryJobs(100);
      await until(() => claimSizes.reduce((sum, size) => sum + size, 0) === jobs.length, 20_000);
    } finally {
      await worker.stop();
    }
    // Round trips of a few milliseconds: the queue grows with the pace from a slot's worth (2, 1, 1, 1, 1, 1 here).
    // Taking the first claim's wait as a round trip, it covers seconds of the pace at once (2, 2, 3, 5, 5, 7).
    const firstSix = claimSizes.slice(0, 6);
    expect(firstSix).toHaveLength(6);
    expect(firstSix.reduce((sum, size) => sum + size, 0)).toBeLessThanOrEqual(14);
  }, 30_000);

  it('asks for a slot’s worth again once its queue runs dry, not for the size of a past burst', async () => {
    const jobs = await discoveryJobs(300);
    proxy = await startFaultyProxy(api.url);
    let claimedCount = 0;
    let idles = 0;
    let dryAt = 0;
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 2,
      waitMs: 300,
      tasks: { channel_discovery: () => null },
      hooks: {
        claimed: (claimed) => (claimedCount += claimed.length),
        idle: () => {
          idles += 1;
          dryAt ||= Date.now();
        },
      },
    });
    try {
      worker.start();
      await until(() => claimedCount === jobs.length, 20_000);
      await until(() => idles >= 3, 10_000);
    } finally {
      await worker.stop();
    }
    // Claims sent after the first that found nothing (the one before it may have been sized while work waited).
    const limitsAfter = claimsOf(proxy)
      .filter((request) => request.at > dryAt + 50)
      .flatMap((request) => request.calls.map((call) => (call.input as { limit: number }).limit));
    expect(limitsAfter.length).toBeGreaterThan(0);
    // Two slots and two waiting; the burst's pace would ask for up to a hundred.
    for (const limit of limitsAfter) expect(limit).toBeLessThanOrEqual(4);
  }, 30_000);

  it('keeps a fixed local queue when told its size', async () => {
    const jobs = await discoveryJobs(200);
    const claimSizes: number[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 2,
      prefetch: 2,
      waitMs: 200,
      tasks: { channel_discovery: () => null },
      hooks: { claimed: (claimed) => claimSizes.push(claimed.length) },
    });
    worker.start();
    await until(() => claimSizes.reduce((sum, size) => sum + size, 0) === jobs.length, 20_000);
    await worker.stop();
    expect(Math.max(...claimSizes)).toBe(4);
  });

  it('claims only for free slots with no local queue', async () => {
    await discoveryJobs(6);
    const claimSizes: number[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 2,
      prefetch: 0,
      waitMs: 200,
      tasks: { channel_discovery: () => null },
      hooks: { claimed: (claimed) => claimSizes.push(claimed.length) },
    });
    worker.start();
    await until(() => claimSizes.reduce((sum, size) => sum + size, 0) === 6);
    await worker.stop();
    expect(Math.max(...claimSizes)).toBeLessThanOrEqual(2);
  });

  it('keeps a claimed job waiting for a slot for a third of its lease, and releases it then, not later', async () => {
    await discoveryJobs(2);
    const busy = gate();
    const claimedAt = new Map<string, number>();
    const releasedAfter: number[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      prefetch: 1,
      leaseSeconds: 6,
      waitMs: 200,
      tasks: { channel_discovery: () => busy.opened.then(() => null) },
      hooks: {
        claimed: (jobs) => jobs.forEach((job) => claimedAt.set(job.id, Date.now())),
        released: (jobs) => jobs.forEach((job) => releasedAfter.push(Date.now() - claimedAt.get(job.id)!)),
      },
    });
    try {
      worker.start();
      await until(() => releasedAfter.length === 1, 10_000);
    } finally {
      busy.open();
      await worker.stop();
    }
    // A third of six seconds: two; half would be three.
    expect(releasedAfter[0]).toBeGreaterThanOrEqual(1_900);
    expect(releasedAfter[0]).toBeLessThan(2_900);
  });

  it('releases each waiting job a third of its lease after its own claim, not when another waiting job falls due', async () => {
    await discoveryJobs(2);
    const busy = gate();
    const claimedAt = new Map<string, number>();
    const releases: { id: string; waitedMs: number }[] = [];
    proxy = await startFaultyProxy(api.url);
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      prefetch: 4,
      leaseSeconds: 9,
      waitMs: 5_000,
      tasks: { channel_discovery: () => busy.opened.then(() => null) },
      hooks: {
        claimed: (jobs) => jobs.forEach((job) => claimedAt.set(job.id, Date.now())),
        released: (jobs) =>
          releases.push(
            ...jobs.map((job) => ({ id: job.id, waitedMs: Date.now() - claimedAt.get(job.id)! })),
          ),
      },
    });
    try {
      worker.start();
      // One job runs and one waits; the worker's next claims wait for work until a third arrives, 0.3 s on, and
      // a fourth, 2 s on: both are in the local queue when the first waiting job is released, at 3 s.
      await until(() => claimedAt.size === 2);
      const firstClaimAt = Math.min(...claimedAt.values());
      await after(firstClaimAt, 300);
      await discoveryJobs(1);
      await after(firstClaimAt, 2_000);
      await discoveryJobs(1);
      await until(() => releases.length >= 3, 10_000);
      // Time for a second release of any of them, were there one.
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      busy.open();
      await worker.stop();
    }
    // Each once, a third of nine seconds after its own claim.
    expect(new Set(releases.map((release) => release.id)).size).toBe(3);
    expect(releases).toHaveLength(3);
    // One call each to the API, too.
    const releaseCalls = proxy.requests.flatMap((request) => jobIdsOf(request, 'jobs.release'));
    expect(releaseCalls.sort()).toEqual(releases.map((release) => release.id).sort());
    for (const { waitedMs } of releases) {
      expect(waitedMs).toBeGreaterThanOrEqual(2_950);
      // Not when the last of those waiting falls due: 4.7 s for the third job.
      expect(waitedMs).toBeLessThan(3_800);
    }
  });

  it('keeps claiming ahead when its check for late jobs finds none late', async () => {
    await discoveryJobs(2);
    const busy = gate();
    const claimed = new Set<string>();
    let firstClaimAt = 0;
    let started = 0;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      prefetch: 3,
      // A waiting job is released two seconds after its claim.
      leaseSeconds: 6,
      waitMs: 200,
      tasks: {
        channel_discovery: async () => {
          started += 1;
          if (started === 1) await new Promise((resolve) => setTimeout(resolve, 1_000));
          else await busy.opened;
          return null;
        },
      },
      hooks: {
        claimed: (jobs) => {
          firstClaimAt ||= Date.now();
          for (const job of jobs) claimed.add(job.id);
        },
      },
    });
    try {
      worker.start();
      await until(() => claimed.size === 2);
      // The first job ends at one second and the second starts, its slot taken from then on; the check that would
      // have released the second finds nothing late at two seconds. A third job queued at 2.5 s is claimed at once,
      // ahead of a free slot.
      await after(firstClaimAt, 2_500);
      const [third] = await discoveryJobs(1);
      await until(() => claimed.has(third!.id), 2_000);
    } finally {
      busy.open();
      await worker.stop();
    }
  });

  it('releases a claimed job that cannot start within a third of its lease, unspent, for an idle worker to run', async () => {
    await discoveryJobs(2);
    const busy = gate();
    const ranOnBusy: string[] = [];
    const released: string[] = [];
    const busyWorker = createTestWorker({
      url: api.url,
      workerId: 'busy',
      concurrency: 1,
      prefetch: 1,
      leaseSeconds: 3,
      waitMs: 200,
      tasks: {
        channel_discovery: async (job) => {
          ranOnBusy.push(job.id);
          await busy.opened;
          return null;
        },
      },
      hooks: {
        claimed: (jobs) => claimedByBusy.push(...jobs.map((job) => job.id)),
        released: (jobs) => released.push(...jobs.map((job) => job.id)),
      },
    });
    const claimedByBusy: string[] = [];
    const claimed: string[] = [];
    busyWorker.start();
    // Both jobs with the busy worker, one running and one in its local queue, before the idle worker asks.
    await until(() => ranOnBusy.length === 1 && claimedByBusy.length === 2);
    const ranOnIdle: string[] = [];
    const idleWorker = createTestWorker({
      url: api.url,
      workerId: 'idle',
      concurrency: 1,
      waitMs: 10_000,
      tasks: {
        channel_discovery: (job) => {
          ranOnIdle.push(job.id);
          return null;
        },
      },
      hooks: { claimed: (jobs) => claimed.push(...jobs.map((job) => job.id)) },
    });
    idleWorker.start();
    // The busy worker holds its second job in its local queue, its one slot taken until the gate opens.
    // Both: the release's hook runs on its acknowledgement, which may reach the busy worker after the idle one ran
    // the job.
    await until(() => ranOnIdle.length === 1 && released.length === 1, 10_000);
    const [waited] = ranOnIdle;
    expect(released).toEqual([waited]);
    expect(ranOnBusy).not.toContain(waited);
    await until(async () => (await jobRow(waited!)).status === 'completed');
    // Released without spending the busy worker's attempt: the idle worker's run is the job's first.
    expect(await jobRow(waited!)).toMatchObject({ status: 'completed', attempts: 1, locked_by: 'idle' });
    busy.open();
    await Promise.all([busyWorker.stop(), idleWorker.stop()]);
    expect(await jobRow(ranOnBusy[0]!)).toMatchObject({
      status: 'completed',
      attempts: 1,
      locked_by: 'busy',
    });
    expect(claimed).toEqual([waited]);
  });

  it('releases a waiting job that a handler blocking the event loop kept past a third of its lease, rather than start it late', async () => {
    const jobs = await discoveryJobs(2);
    const started: string[] = [];
    const released: string[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      prefetch: 1,
      leaseSeconds: 3,
      waitMs: 200,
      tasks: {
        channel_discovery: (job) => {
          started.push(job.id);
          // CPU-bound work that holds the event loop past a third of the lease (one second): no timer runs meanwhile.
          if (started.length === 1) for (const deadline = Date.now() + 1_200; Date.now() < deadline;);
          return null;
        },
      },
      hooks: { released: (releasedJobs) => released.push(...releasedJobs.map((job) => job.id)) },
    });
    try {
      worker.start();
      await until(async () =>
        (await jobRows(jobs.map((job) => job.id))).every((row) => row.status === 'completed'),
      );
    } finally {
      await worker.stop();
    }
    const [, second] = started;
    expect(released).toEqual([second]);
    // Released unspent, then claimed again and run: its one attempt, and each job started once.
    expect(await jobRow(second!)).toMatchObject({ status: 'completed', attempts: 1 });
    expect(started).toHaveLength(2);
  });

  it('releases the jobs waiting in its local queue when it stops, unspent', async () => {
    const jobs = await discoveryJobs(4);
    const ran: string[] = [];
    const released: string[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      waitMs: 200,
      prefetch: 3,
      tasks: {
        channel_discovery: async (job) => {
          ran.push(job.id);
          await new Promise((resolve) => setTimeout(resolve, 100));
          return null;
        },
      },
      hooks: { released: (released_) => released.push(...released_.map((job) => job.id)) },
    });
    worker.start();
    await until(() => ran.length === 1);
    await worker.stop();
    expect(ran).toHaveLength(1);
    expect(released.sort()).toEqual(
      jobs
        .map((job) => job.id)
        .filter((id) => id !== ran[0])
        .sort(),
    );
    for (const row of await jobRows(released)) {
      expect(row).toMatchObject({ status: 'queued', attempts: 0, lease_token: null });
    }
  });

  it('claims again only when the Retry-After of a refused claim says, reporting the error, then runs the job', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    let refused = 0;
    proxy.decide = (request) =>
      request.calls.some((call) => call.procedure === 'jobs.claim') && refused++ < 2 ? 'unavailable' : 'pass';
    const errors: Error[] = [];
    const ran: string[] = [];
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 200,
      tasks: { channel_discovery: (claimed) => (ran.push(claimed.id), null) },
      hooks: { error: (error) => errors.push(error) },
    });
    worker.start();
    await until(() => ran.length === 1, 10_000);
    await worker.stop();
    const [first, second, third] = claimsOf(proxy);
    // Retry-After is one second: each claim after a refused one waits that long.
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(1_000);
    expect(third!.at - second!.at).toBeGreaterThanOrEqual(1_000);
    expect(errors).toHaveLength(2);
    expect(ran).toEqual([job!.id]);
  });

  it('stops at once while it waits to claim again after a refused claim', async () => {
    proxy = await startFaultyProxy(api.url);
    proxy.decide = () => 'unavailable';
    proxy.retryAfter = '5';
    const errors: Error[] = [];
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 200,
      tasks: { channel_discovery: () => null },
      hooks: { error: (error) => errors.push(error) },
    });
    worker.start();
    // Refused, and so waiting five seconds before it claims again.
    await until(() => errors.length === 1);
    const stopping = performance.now();
    await worker.stop();
    // Stopping cuts that wait short.
    expect(performance.now() - stopping).toBeLessThan(2_000);
    expect(claimsOf(proxy)).toHaveLength(1);
  });
});

describe('a worker’s claims', () => {
  const limitsOf = (faulty: FaultyProxy) =>
    claimsOf(faulty).map((request) => (request.calls[0]!.input as { limit: number }).limit);

  it('report no error while they find no work and the worker has no idle hook', async () => {
    proxy = await startFaultyProxy(api.url);
    const errors: Error[] = [];
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 50,
      tasks: { channel_discovery: () => null },
      hooks: { error: (error) => errors.push(error) },
    });
    try {
      worker.start();
      await until(() => claimsOf(proxy!).length >= 4);
    } finally {
      await worker.stop();
    }
    expect(errors).toEqual([]);
  });

  it('wait until half the local queue has room, rather than ask for each job a finished one makes room for', async () => {
    const jobs = await discoveryJobs(12);
    proxy = await startFaultyProxy(api.url);
    const ran = new Set<string>();
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      prefetch: 4,
      waitMs: 200,
      tasks: {
        channel_discovery: async (job) => {
          await new Promise((resolve) => setTimeout(resolve, 20));
          ran.add(job.id);
          return null;
        },
      },
    });
    try {
      worker.start();
      await until(() => ran.size === jobs.length);
    } finally {
      await worker.stop();
    }
    const limits = limitsOf(proxy);
    // One slot and four waiting: five at first, then each claim once two have room.
    expect(limits[0]).toBe(5);
    expect(Math.min(...limits)).toBeGreaterThanOrEqual(2);
  });

  it('are at most two in flight at once, of at most a hundred jobs each, however many slots the worker has', async () => {
    proxy = await startFaultyProxy(api.url);
    const claims = slowDown(proxy, 'jobs.claim', 200);
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 250,
      prefetch: 0,
      waitMs: 0,
      tasks: { channel_discovery: () => null },
    });
    try {
      worker.start();
      await until(() => claimsOf(proxy!).length >= 4);
    } finally {
      await worker.stop();
    }
    expect(claims.mostAtOnce).toBe(2);
    expect(limitsOf(proxy).slice(0, 2)).toEqual([100, 100]);
  });

  it('start a higher-priority job claimed later before the lower-priority ones already waiting', async () => {
    const low = await discoveryJobs(3);
    const busy = gate();
    const started: string[] = [];
    let claimed = 0;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 2,
      prefetch: 2,
      waitMs: 5_000,
      hooks: { claimed: (jobs) => (claimed += jobs.length) },
      tasks: {
        channel_discovery: async (job) => {
          started.push(job.id);
          if (started.length <= 2) await busy.opened;
          return null;
        },
      },
    });
    let high: { id: string } | undefined;
    try {
      worker.start();
      // Two low jobs run, the third waits in the local queue, and a claim waits for more work.
      await until(() => started.length === 2 && claimed === 3);
      const [channel] = await channelFactory.createList(1);
      [high] = await enqueueJobs(testDatabase().db, [
        { jobType: 'channel_discovery', entityType: 'channel', entityId: channel!.id, priority: 10 },
      ]);
      await until(() => claimed === 4);
      busy.open();
      await until(() => started.length === 4);
    } finally {
      busy.open();
      await worker.stop();
    }
    expect(started[2]).toBe(high!.id);
    expect(started.slice(0, 2).concat(started[3]!).sort()).toEqual(low.map((job) => job.id).sort());
  });

  it('start the job waiting in the local queue as soon as a handler finishes, before its completion is acknowledged', async () => {
    const jobs = await discoveryJobs(2);
    proxy = await startFaultyProxy(api.url);
    let acknowledge: (() => void) | undefined;
    const held = new Promise<void>((resolve) => (acknowledge = resolve));
    proxy.hold = ({ calls }) =>
      calls.some((call) => call.procedure === 'jobs.completeMany') ? held : undefined;
    const started: string[] = [];
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      prefetch: 1,
      // Long, so that no claim's response, which dispatches what waits too, comes meanwhile.
      waitMs: 10_000,
      tasks: { channel_discovery: (job) => (started.push(job.id), null) },
    });
    try {
      worker.start();
      // Every completion is held in front of the API, so none is acknowledged while the second job starts.
      // Within the claim's wait, through which nothing else would start it.
      await until(() => started.length === 2, 8_000);
      await until(() => proxy!.requests.some((request) => jobIdsOf(request, 'jobs.completeMany').length > 0));
      expect(proxy.requests.flatMap((request) => jobIdsOf(request, 'jobs.completeMany'))).toContain(
        started[0],
      );
    } finally {
      acknowledge!();
    }
    await until(async () =>
      (await jobRows(jobs.map((job) => job.id))).every((row) => row.status === 'completed'),
    );
    await worker.stop();
  });

  it('ask only for free slots after a job waited too long to start, until a slot frees', async () => {
    await discoveryJobs(3);
    const busy = gate();
    const started: string[] = [];
    const claimed: string[][] = [];
    const released: string[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      prefetch: 1,
      leaseSeconds: 3,
      waitMs: 200,
      tasks: {
        channel_discovery: async (job) => {
          started.push(job.id);
          if (started.length === 1) await busy.opened;
          return null;
        },
      },
      hooks: {
        claimed: (jobs) => claimed.push(jobs.map((job) => job.id)),
        released: (jobs) => {
          released.push(...jobs.map((job) => job.id));
          claimsAtRelease ??= claimed.length;
        },
      },
    });
    let claimsAtRelease: number | undefined;
    try {
      worker.start();
      // One job runs and one waits; the one waiting is released a second in (a third of the lease).
      await until(() => released.length === 1, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect(claimed).toHaveLength(claimsAtRelease!);
      busy.open();
      await until(() => new Set(started).size === 3);
    } finally {
      busy.open();
      await worker.stop();
    }
    // Once the slot freed, the worker claimed ahead again: the two jobs left in one claim.
    expect(claimed.at(-1)).toHaveLength(2);
    expect(started).toHaveLength(3);
  });
});

describe('a worker’s failed claims', () => {
  it('are sent again after a backoff that doubles while they fail and starts over once one succeeds', async () => {
    proxy = await startFaultyProxy(api.url);
    const faults: Fault[] = ['reset', 'reset', 'reset', 'pass', 'reset'];
    let claims = 0;
    proxy.decide = ({ calls }) =>
      calls.some((call) => call.procedure === 'jobs.claim') ? (faults[claims++] ?? 'pass') : 'pass';
    const errors: Error[] = [];
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 100,
      tasks: { channel_discovery: () => null },
      hooks: { error: (error) => errors.push(error) },
    });
    try {
      worker.start();
      await until(() => claimsOf(proxy!).length >= 6);
    } finally {
      await worker.stop();
    }
    const sent = claimsOf(proxy).map((request) => request.at);
    const [afterFirst, afterSecond, afterThird, , afterFailurePastSuccess] = sent
      .slice(1)
      .map((at, index) => at - sent[index]!);
    // 250 ms spread by a fifth after one failure, 500 ms after two in a row, 1 s after three; a success starts
    // over at 250 ms, where a count kept would wait 2 s or more.
    expect(afterFirst).toBeGreaterThanOrEqual(200);
    expect(afterSecond).toBeGreaterThanOrEqual(400);
    expect(afterThird).toBeGreaterThanOrEqual(800);
    expect(afterFailurePastSuccess).toBeGreaterThanOrEqual(200);
    expect(afterFailurePastSuccess).toBeLessThan(1_500);
    expect(errors).toHaveLength(4);
  });
});
