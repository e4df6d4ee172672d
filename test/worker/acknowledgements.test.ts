import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { retryAfterSeconds } from '../../src/api/error-shape';
import {
  type ClaimedJob,
  type JobResult,
  PermanentJobError,
  type Undelivered,
  type WorkerOptions,
} from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { type Fault, type FaultyProxy, jobIdsOf, startFaultyProxy } from '../support/faulty-proxy';
import { until } from '../support/until';
import { discoveryJobs, handlerOfFates, jobRow, jobRows, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/** A worker whose handler runs `handle`, counting each job's runs and recording what its hooks report. */
function observedWorker(
  url: string,
  handle: (job: ClaimedJob) => Promise<JobResult> | JobResult,
  options: Partial<WorkerOptions> = {},
) {
  const runs = new Map<string, number>();
  const seen = {
    completed: [] as string[],
    failed: [] as string[],
    leaseLost: [] as string[],
    errors: [] as Error[],
    undelivered: [] as Undelivered[],
    /** Calls of the `undelivered` hook, which reports only when something was left undelivered. */
    undeliveredReports: 0,
  };
  const worker = createTestWorker({
    url,
    concurrency: 50,
    waitMs: 200,
    leaseSeconds: 10,
    tasks: {
      channel_discovery: (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        return handle(job);
      },
    },
    hooks: {
      completed: (job) => seen.completed.push(job.id),
      failed: (job) => seen.failed.push(job.id),
      leaseLost: (job) => seen.leaseLost.push(job.id),
      error: (error) => seen.errors.push(error),
      undelivered: (jobs) => {
        seen.undeliveredReports += 1;
        seen.undelivered.push(...jobs);
      },
    },
    ...options,
  });
  return { worker, runs, seen };
}

const ids = (jobs: { id: string }[]) => jobs.map((job) => job.id).sort();

/**
 * The first call of `procedure` for each job meets a fault, the next of `faults` in turn (a request carrying any
 * job's first call meets it whole); the calls that try again pass.
 */
function firstCallsFail(procedure: string, faults: Fault[]): FaultyProxy['decide'] {
  const tried = new Set<string>();
  let next = 0;
  return (request) => {
    const named = jobIdsOf(request, procedure);
    const first = named.some((id) => !tried.has(id));
    for (const id of named) tried.add(id);
    return first ? faults[next++ % faults.length]! : 'pass';
  };
}

async function everyJob(jobIds: string[], status: string) {
  return (await jobRows(jobIds)).every((row: { status: string }) => row.status === status);
}

describe('a worker whose calls fail keeps each outcome until the API acknowledges it', () => {
  it('completes every job once, on its only attempt, through completion calls rejected with 503 while the database restarts, waiting as retry-after says', async () => {
    const jobs = await discoveryJobs(300, 1);
    proxy = await startFaultyProxy(api.url);
    proxy.decide = firstCallsFail('jobs.completeMany', ['unavailable']);
    const { worker, runs, seen } = observedWorker(proxy.url, () => ({ ok: true }));
    worker.start();
    await until(() => everyJob(ids(jobs), 'completed'), 50_000);
    await worker.stop();

    expect((await jobRows(ids(jobs))).filter((row: { attempts: number }) => row.attempts !== 1)).toEqual([]);
    expect(runs.size).toBe(jobs.length);
    expect(new Set(runs.values())).toEqual(new Set([1]));
    expect(seen.completed.sort()).toEqual(ids(jobs));
    expect(seen.leaseLost).toEqual([]);
    const rejected = proxy.requests.filter((request) => request.fault === 'unavailable');
    expect(rejected.length).toBeGreaterThan(0);
    for (const failed of rejected) {
      for (const id of jobIdsOf(failed, 'jobs.completeMany')) {
        const next = proxy.requests.find(
          (request) => request.at > failed.at && jobIdsOf(request, 'jobs.completeMany').includes(id),
        );
        expect(next!.at - failed.at).toBeGreaterThanOrEqual(Number(retryAfterSeconds) * 1_000);
      }
    }
  }, 60_000);

  it('completes every job once, on its only attempt, through completion calls whose connection resets before or after the API ran them', async () => {
    const jobs = await discoveryJobs(300, 1);
    proxy = await startFaultyProxy(api.url);
    proxy.decide = firstCallsFail('jobs.completeMany', ['reset', 'reset-after']);
    const { worker, runs, seen } = observedWorker(proxy.url, () => ({ ok: true }));
    worker.start();
    await until(() => everyJob(ids(jobs), 'completed'), 50_000);
    // A completion that ran before its connection reset is acknowledged by the next try's response.
    await until(() => seen.completed.length === jobs.length);
    await worker.stop();

    expect((await jobRows(ids(jobs))).filter((row: { attempts: number }) => row.attempts !== 1)).toEqual([]);
    expect(new Set(runs.values())).toEqual(new Set([1]));
    expect(seen.completed.sort()).toEqual(ids(jobs));
    expect(seen.leaseLost).toEqual([]);
    expect(proxy.requests.filter((request) => request.fault === 'reset-after').length).toBeGreaterThan(0);
  }, 60_000);

  it('records each failure once, spending one attempt, through fail calls rejected with 503 or reset before or after the API ran them', async () => {
    const jobs = await discoveryJobs(60, 3);
    const permanent = new Set(ids(jobs.slice(0, 20)));
    proxy = await startFaultyProxy(api.url);
    proxy.decide = firstCallsFail('jobs.fail', ['unavailable', 'reset', 'reset-after']);
    // Sent again at once: the retried jobs fall due again 8 s after their failure, and a delivery slower than that
    // would see them claimed and run a second time.
    proxy.retryAfter = '0';
    const { worker, runs, seen } = observedWorker(
      proxy.url,
      (job) => {
        throw permanent.has(job.id) ? new PermanentJobError('channel is gone') : new Error('quota exceeded');
      },
      // Few at once, so that the fail calls go in many small requests and each fault meets some of them.
      { concurrency: 5 },
    );
    worker.start();
    await until(() => seen.failed.length === jobs.length, 50_000);
    await worker.stop();
    const faultsMet = proxy.requests
      .filter((request) => jobIdsOf(request, 'jobs.fail').length > 0)
      .map((request) => request.fault);
    expect(new Set(faultsMet)).toEqual(new Set(['unavailable', 'reset', 'reset-after', 'pass']));

    for (const row of await jobRows(ids(jobs))) {
      expect(row).toMatchObject(
        permanent.has(row.id)
          ? { status: 'failed', attempts: 1, error_message: 'channel is gone' }
          : { status: 'queued', attempts: 1, error_message: 'quota exceeded' },
      );
    }
    expect(new Set(runs.values())).toEqual(new Set([1]));
    expect(seen.failed.sort()).toEqual(ids(jobs));
    expect(seen.leaseLost).toEqual([]);
  }, 60_000);

  it('claims no more jobs while its completions fail: each outcome the API has not taken holds its slot', async () => {
    const jobs = await discoveryJobs(40, 1);
    proxy = await startFaultyProxy(api.url);
    let failing = true;
    proxy.decide = (request) =>
      failing && jobIdsOf(request, 'jobs.completeMany').length > 0 ? 'unavailable' : 'pass';
    const { worker, runs, seen } = observedWorker(proxy.url, () => null, { concurrency: 2, prefetch: 0 });
    const refusals = () => proxy!.requests.filter((request) => request.fault === 'unavailable').length;
    worker.start();
    await until(() => refusals() >= 2);
    const ranWhileFailing = runs.size;
    // The next try, a second later as retry-after says, fails too; nothing was claimed in between.
    const before = refusals();
    await until(() => refusals() > before);
    expect(runs.size).toBe(ranWhileFailing);
    expect(ranWhileFailing).toBeLessThan(jobs.length);
    failing = false;
    await until(() => everyJob(ids(jobs), 'completed'), 20_000);
    await worker.stop();
    expect(seen.completed.sort()).toEqual(ids(jobs));
    expect(new Set(runs.values())).toEqual(new Set([1]));
  }, 30_000);

  it('gives back the slot of an undelivered result once it claims that job again after its lease ran out', async () => {
    const [first] = await discoveryJobs(1, 3);
    proxy = await startFaultyProxy(api.url);
    let failing = true;
    // Completions and renewals fail, claims pass: the job's lease runs out and this worker claims it again.
    proxy.decide = (request) =>
      failing && request.calls.some((call) => call.procedure !== 'jobs.claim') ? 'unavailable' : 'pass';
    let running = 0;
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const { worker, runs, seen } = observedWorker(
      proxy.url,
      async (job) => {
        if (job.id === first!.id) return { ok: true };
        running += 1;
        await gate;
        return { ok: true };
      },
      { concurrency: 2, prefetch: 0, leaseSeconds: 1 },
    );
    try {
      worker.start();
      await until(() => runs.get(first!.id) === 2);
      failing = false;
      await until(() => seen.completed.includes(first!.id));
      // Both slots are free again: two jobs run at once.
      await discoveryJobs(2);
      await until(() => running === 2, 5_000);
      open();
      await worker.stop();
    } finally {
      open();
      await worker.stop();
    }
    expect(seen.completed).toHaveLength(3);
  }, 30_000);

  it('renews the leases of results it cannot deliver yet, so another worker takes none of their jobs meanwhile', async () => {
    const jobs = await discoveryJobs(5, 1);
    proxy = await startFaultyProxy(api.url);
    let delivering = false;
    proxy.decide = ({ calls }) =>
      !delivering && calls.some((call) => call.procedure === 'jobs.completeMany') ? 'unavailable' : 'pass';
    const { worker, runs, seen } = observedWorker(proxy.url, () => ({ ok: true }), {
      concurrency: 5,
      leaseSeconds: 3,
    });
    const takenOver: string[] = [];
    const other = createTestWorker({
      url: api.url,
      concurrency: 5,
      waitMs: 1_000,
      leaseSeconds: 3,
      tasks: {
        channel_discovery: (job) => {
          takenOver.push(job.id);
          return null;
        },
      },
    });
    worker.start();
    await until(() => runs.size === jobs.length);
    other.start();
    // Longer than a lease, while every completion call gets a 503 response.
    await sleep(5_000);
    delivering = true;
    await until(() => everyJob(ids(jobs), 'completed'));
    await Promise.all([worker.stop(), other.stop()]);

    expect(takenOver).toEqual([]);
    expect((await jobRows(ids(jobs))).filter((row: { attempts: number }) => row.attempts !== 1)).toEqual([]);
    expect(seen.completed.sort()).toEqual(ids(jobs));
  }, 30_000);

  it('on stop, keeps renewing the leases of results it is still delivering, so another worker takes none of their jobs meanwhile', async () => {
    const jobs = await discoveryJobs(2, 1);
    proxy = await startFaultyProxy(api.url);
    let delivering = false;
    proxy.decide = (request) =>
      !delivering && jobIdsOf(request, 'jobs.completeMany').length > 0 ? 'unavailable' : 'pass';
    const { worker, runs, seen } = observedWorker(proxy.url, () => ({ ok: true }), {
      concurrency: 2,
      leaseSeconds: 2,
      drainMs: 20_000,
    });
    const takenOver: string[] = [];
    const other = createTestWorker({
      url: api.url,
      concurrency: 2,
      waitMs: 1_000,
      leaseSeconds: 2,
      tasks: {
        channel_discovery: (job) => {
          takenOver.push(job.id);
          return null;
        },
      },
    });
    worker.start();
    await until(() => runs.size === jobs.length && seen.errors.length > 0);
    const stopped = worker.stop();
    other.start();
    // Longer than a lease, while every completion call gets a 503 response.
    await sleep(3_000);
    delivering = true;
    await stopped;
    await other.stop();

    expect(takenOver).toEqual([]);
    expect(seen.undelivered).toEqual([]);
    expect(seen.completed.sort()).toEqual(ids(jobs));
    expect((await jobRows(ids(jobs))).filter((row: { attempts: number }) => row.attempts !== 1)).toEqual([]);
  }, 30_000);

  it('on stop, keeps delivering the outcomes the API has not acknowledged yet, and returns once it has', async () => {
    const jobs = await discoveryJobs(5, 1);
    proxy = await startFaultyProxy(api.url);
    proxy.decide = firstCallsFail('jobs.completeMany', ['unavailable']);
    const { worker, runs, seen } = observedWorker(proxy.url, () => ({ ok: true }));
    worker.start();
    await until(() => proxy!.requests.some((request) => request.fault === 'unavailable') && runs.size === 5);
    await worker.stop();

    expect(seen.undeliveredReports).toBe(0);
    expect(seen.completed.sort()).toEqual(ids(jobs));
    expect(await everyJob(ids(jobs), 'completed')).toBe(true);
  });

  it('stops renewing the leases of the outcomes it could not deliver, also with no hook to report them', async () => {
    const jobs = await discoveryJobs(2, 1);
    proxy = await startFaultyProxy(api.url);
    // Completions never get through; renewals do.
    proxy.decide = (request) => (jobIdsOf(request, 'jobs.completeMany').length > 0 ? 'unavailable' : 'pass');
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 2,
      waitMs: 200,
      leaseSeconds: 3,
      drainMs: 500,
      tasks: { channel_discovery: () => null },
    });
    worker.start();
    await until(() => proxy!.requests.some((request) => request.fault === 'unavailable'));
    await worker.stop();
    const stoppedAt = Date.now();
    // Longer than the second between renewals of a three-second lease.
    await sleep(1_500);

    const renewalsAfterStop = proxy.requests.filter(
      (request) => request.at >= stoppedAt && jobIdsOf(request, 'jobs.heartbeat').length > 0,
    );
    expect(renewalsAfterStop).toEqual([]);
    // Left leased, to run again on another worker once the leases run out.
    for (const row of await jobRows(ids(jobs))) expect(row).toMatchObject({ status: 'running', attempts: 1 });
  });

  it('on stop with the API unreachable, reports by job id the outcomes it could not deliver, and leaves those jobs leased', async () => {
    const jobs = await discoveryJobs(6, 1);
    const failing = jobs[0]!.id;
    proxy = await startFaultyProxy(api.url);
    let finish: () => void = () => undefined;
    const finishing = new Promise<void>((resolve) => (finish = resolve));
    const { worker, runs, seen } = observedWorker(
      proxy.url,
      async (job) => {
        await finishing;
        if (job.id === failing) throw new Error('quota exceeded');
        return { ok: true };
      },
      { drainMs: 500 },
    );
    worker.start();
    await until(() => runs.size === jobs.length);
    const unreachable = proxy;
    proxy = undefined;
    await unreachable.close();
    finish();
    await worker.stop();

    expect(
      seen.undelivered
        .map(({ job, outcome }) => ({ id: job.id, outcome }))
        .sort((a, b) => (a.id < b.id ? -1 : 1)),
    ).toEqual(ids(jobs).map((id) => ({ id, outcome: id === failing ? 'fail' : 'complete' })));
    expect(seen.completed).toEqual([]);
    expect(seen.failed).toEqual([]);
    for (const row of await jobRows(ids(jobs))) expect(row).toMatchObject({ status: 'running', attempts: 1 });
  });

  it('on stop, cuts off a completion call still in flight when its time to deliver runs out: it never reaches the API afterwards', async () => {
    const [job] = await discoveryJobs(1, 1);
    proxy = await startFaultyProxy(api.url);
    let letThrough: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    proxy.hold = ({ calls }) =>
      calls.some((call) => call.procedure === 'jobs.completeMany') ? held : undefined;
    const completion = () =>
      proxy!.requests.find((request) => jobIdsOf(request, 'jobs.completeMany').length > 0);
    const { worker, seen } = observedWorker(proxy.url, () => ({ ok: true }), { drainMs: 500 });
    worker.start();
    await until(() => completion() !== undefined);
    await worker.stop();
    expect(seen.undelivered.map((left) => left.job.id)).toEqual([job!.id]);
    await until(() => completion()!.callerLeftAt !== undefined, 5_000);
    // The proxy forwards a held call only if its caller is still waiting for it.
    letThrough();
    await sleep(100);

    expect(await jobRow(job!.id)).toMatchObject({ status: 'running', attempts: 1 });
    // Cut off by the stop, the call failed for no reason worth reporting.
    expect(seen.errors).toEqual([]);
  });

  it('fails for good a job whose result the API rejects, saying why, and completes the others of its batch', async () => {
    const jobs = await discoveryJobs(5, 3);
    const rejected = jobs[2]!.id;
    const { worker, seen } = observedWorker(api.url, (job): JobResult =>
      job.id === rejected ? { text: 'a\u0000b' } : { ok: true },
    );
    worker.start();
    await until(() => seen.completed.length + seen.failed.length === jobs.length);
    await worker.stop();

    expect(seen.failed).toEqual([rejected]);
    for (const row of await jobRows(ids(jobs))) {
      if (row.id === rejected) {
        expect(row).toMatchObject({ status: 'failed', attempts: 1 });
        expect(row.error_message).toMatch(/rejected the job's result: .*NUL/);
      } else expect(row).toMatchObject({ status: 'completed', result: { ok: true } });
    }
  });
});

describe('a worker given only some hooks', () => {
  it('reports each outcome with no error when the hooks for it were not given', async () => {
    const [snoozed, done, broken, cancelled, stopped] = await discoveryJobs(5);
    const fates = handlerOfFates(
      new Map([
        [snoozed!.id, 'snooze'],
        [broken!.id, 'fail'],
        [cancelled!.id, 'cancelled while running'],
        [stopped!.id, 'run until stopped'],
      ]),
    );
    const errors: Error[] = [];
    let running = 0;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 5,
      waitMs: 200,
      graceMs: 100,
      tasks: {
        channel_discovery: (job, helpers) => {
          running += 1;
          return fates(job, helpers);
        },
      },
      hooks: { error: (error) => errors.push(error) },
    });
    worker.start();
    await until(async () => {
      const rows = await jobRows([snoozed!.id, done!.id, broken!.id]);
      return running === 5 && rows.every((row: { status: string }) => row.status !== 'running');
    });
    await worker.stop();

    expect(errors).toEqual([]);
    const statuses = new Map(
      (await jobRows([snoozed!.id, done!.id, broken!.id, cancelled!.id, stopped!.id])).map((row) => [
        row.id,
        [row.status, row.attempts],
      ]),
    );
    expect([snoozed, done, broken, cancelled, stopped].map((job) => statuses.get(job!.id))).toEqual([
      ['queued', 0],
      ['completed', 1],
      ['queued', 1],
      ['cancelled', 1],
      ['queued', 0],
    ]);
  });
});
