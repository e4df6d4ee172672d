import { afterEach, describe, expect, it } from 'vitest';
import { createTestWorker } from '../support/test-worker';
import { testDatabase } from '../support/database';
import { type FaultyProxy, jobIdsOf, startFaultyProxy } from '../support/faulty-proxy';
import { until } from '../support/until';
import { discoveryJobs, jobRow, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

describe('a worker stopping', () => {
  it('lets running handlers finish within the grace period and releases those that give up, unspent', async () => {
    const [quick, slow, stubborn] = await discoveryJobs(3);
    const released: string[] = [];
    let running = 0;
    let stopReason: unknown;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 3,
      waitMs: 200,
      graceMs: 300,
      tasks: {
        channel_discovery: async (job, { signal }) => {
          running += 1;
          if (job.id === quick!.id) await new Promise((resolve) => setTimeout(resolve, 100));
          // Gives up when aborted, as a fetch does.
          else if (job.id === slow!.id)
            await new Promise((_, reject) =>
              signal.addEventListener('abort', () => reject((stopReason = signal.reason))),
            );
          // Ignores the abort and finishes its work a little later: done, so completed, not run again.
          else await new Promise((resolve) => setTimeout(resolve, 600));
          return { done: job.id };
        },
      },
      hooks: { released: (jobs) => released.push(...jobs.map((job) => job.id)) },
    });
    worker.start();
    await until(() => running === 3);
    await worker.stop();
    expect(released).toEqual([slow!.id]);
    // The signal says why it was aborted, for the handler's logs.
    expect((stopReason as Error).message).toBe('the worker is stopping');
    expect(await jobRow(quick!.id)).toMatchObject({ status: 'completed' });
    expect(await jobRow(stubborn!.id)).toMatchObject({ status: 'completed', result: { done: stubborn!.id } });
    expect(await jobRow(slow!.id)).toMatchObject({ status: 'queued', attempts: 0, lease_token: null });
  });

  it('snoozes the job of a handler that snoozes as the stop aborts it, rather than releasing it', async () => {
    const [job] = await discoveryJobs(1);
    const released: string[] = [];
    const deferred: string[] = [];
    let running = 0;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      waitMs: 200,
      graceMs: 0,
      tasks: {
        channel_discovery: async (_job, helpers) => {
          running += 1;
          await new Promise((resolve) => helpers.signal.addEventListener('abort', resolve));
          return helpers.snooze(600, 'picked up again after the deploy');
        },
      },
      hooks: {
        released: (jobs) => released.push(...jobs.map((job) => job.id)),
        deferred: (deferredJob) => deferred.push(deferredJob.id),
      },
    });
    worker.start();
    await until(() => running === 1);
    await worker.stop();
    expect(released).toEqual([]);
    expect(deferred).toEqual([job!.id]);
    expect(await jobRow(job!.id)).toMatchObject({
      status: 'queued',
      attempts: 0,
      wait_reason: 'snoozed',
      wait_detail: 'picked up again after the deploy',
    });
  });

  it('leaves a job whose handler never settles to its lease instead of releasing it to run twice', async () => {
    const [stuck] = await discoveryJobs(1);
    const released: string[] = [];
    let running = 0;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      waitMs: 200,
      graceMs: 100,
      tasks: {
        channel_discovery: async () => {
          running += 1;
          await new Promise(() => undefined);
        },
      },
      hooks: { released: (jobs) => released.push(...jobs.map((job) => job.id)) },
    });
    worker.start();
    await until(() => running === 1);
    await worker.stop();
    expect(released).toEqual([]);
    expect(await jobRow(stuck!.id)).toMatchObject({ status: 'running', attempts: 1 });
  });

  it('stops renewing the lease of a job whose handler never settles while it still delivers other outcomes', async () => {
    const [stuck] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    let delivering = false;
    proxy.decide = (request) =>
      !delivering && jobIdsOf(request, 'jobs.completeMany').length > 0 ? 'unavailable' : 'pass';
    const errors: Error[] = [];
    let running = 0;
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 2,
      waitMs: 200,
      graceMs: 0,
      drainMs: 20_000,
      leaseSeconds: 1,
      tasks: {
        channel_discovery: async (job) => {
          running += 1;
          if (job.id === stuck!.id) await new Promise(() => undefined);
          return null;
        },
      },
      hooks: { error: (error) => errors.push(error) },
    });
    worker.start();
    await until(() => running === 1);
    await discoveryJobs(1);
    await until(() => running === 2 && errors.length > 0);
    const stopped = worker.stop();
    // The stop gives up on the handler two seconds in; its one-second lease has run out well before this.
    await new Promise((resolve) => setTimeout(resolve, 4_500));
    const { rows } = await testDatabase().db.raw<{ rows: { lapsed: boolean }[] }>(
      'SELECT lease_expires_at < now() AS lapsed FROM processing_jobs WHERE id = ?',
      [stuck!.id],
    );
    delivering = true;
    await stopped;
    expect(rows[0]!.lapsed).toBe(true);
  });

  it('leaves no job leased to it when work arrives as the stop begins: each is done or back in the queue', async () => {
    for (let round = 0; round < 5; round += 1) {
      await testDatabase().db('processing_jobs').delete();
      const ran: string[] = [];
      const worker = createTestWorker({
        url: api.url,
        concurrency: 2,
        waitMs: 10_000,
        graceMs: 0,
        tasks: {
          channel_discovery: (job) => {
            ran.push(job.id);
            return null;
          },
        },
      });
      worker.start();
      // The worker's claim is waiting for work by now.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const jobs = await discoveryJobs(2);
      await new Promise((resolve) => setTimeout(resolve, round * 2));
      await worker.stop();
      const rows = await testDatabase()
        .db('processing_jobs')
        .whereIn(
          'id',
          jobs.map((job) => job.id),
        );
      for (const row of rows) {
        if (ran.includes(row.id)) expect(row).toMatchObject({ status: 'completed', attempts: 1 });
        else expect(row).toMatchObject({ status: 'queued', attempts: 0, lease_token: null });
      }
    }
  });
});

describe('a worker stopping with its default grace period', () => {
  it('lets a handler that needs a second and a half finish, well within the ten seconds it gives, and returns then', async () => {
    const [job] = await discoveryJobs(1);
    let started = false;
    let stopTook: number | undefined;
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      waitMs: 200,
      tasks: {
        // A handler that gives up when asked to stop.
        channel_discovery: async (_job, { signal }) => {
          started = true;
          await new Promise((resolve, reject) => {
            const done = setTimeout(resolve, 1_500);
            signal.addEventListener('abort', () => {
              clearTimeout(done);
              reject(signal.reason as Error);
            });
          });
          return { finished: true };
        },
      },
    });
    try {
      worker.start();
      await until(() => started);
      const stopping = performance.now();
      await worker.stop();
      stopTook = performance.now() - stopping;
    } finally {
      await worker.stop();
    }
    expect(await jobRow(job!.id)).toMatchObject({ status: 'completed', result: { finished: true } });
    // As the handler settles, not at the end of the grace period.
    expect(stopTook).toBeLessThan(6_000);
  });
});

describe('a worker stopping with a claim in flight', () => {
  const isClaim = (calls: { procedure: string }[]) => calls.some((call) => call.procedure === 'jobs.claim');

  it('lets a claim that found work respond, and releases what it brought, unspent', async () => {
    proxy = await startFaultyProxy(api.url);
    let jobs: { id: string }[] | undefined;
    let letThrough: (() => void) | undefined;
    // The claim that found the jobs has run at the API; its response waits in front of the worker until the stop is
    // under way (`stop()` marks the worker stopping at once), so only writing it back is left within the settle.
    // Any claim that brings jobs: the one woken by the enqueue may respond before the test has the jobs' ids.
    proxy.holdResponse = ({ calls }, body) =>
      isClaim(calls) && !body.includes('"json":[]')
        ? new Promise<void>((resolve) => (letThrough = resolve))
        : undefined;
    const ran: string[] = [];
    const released: string[] = [];
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 100,
      tasks: { channel_discovery: (job) => (ran.push(job.id), null) },
      hooks: { released: (jobs) => released.push(...jobs.map((job) => job.id)) },
    });
    try {
      worker.start();
      await until(() => proxy!.requests.some((request) => isClaim(request.calls)));
      jobs = await discoveryJobs(2);
      await until(() => letThrough !== undefined);
      const stopped = worker.stop();
      letThrough!();
      await stopped;
    } finally {
      letThrough?.();
      await worker.stop();
    }
    const ids = jobs!.map((job) => job.id).sort();
    expect(ran).toEqual([]);
    expect(released.sort()).toEqual(ids);
    for (const id of ids) {
      expect(await jobRow(id)).toMatchObject({ status: 'queued', attempts: 0, lease_token: null });
    }
  });

  it('cuts off a claim still waiting for work at once rather than waiting out its wait, reporting no error', async () => {
    const errors: Error[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      waitMs: 10_000,
      tasks: { channel_discovery: () => null },
      hooks: { error: (error) => errors.push(error) },
    });
    worker.start();
    // The worker's claim is waiting for work by now.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopping = performance.now();
    await worker.stop();
    // A quarter of a second for claims that found work to respond, then the cut: far from the claim's ten seconds.
    expect(performance.now() - stopping).toBeLessThan(5_000);
    // The cut is the worker's own doing, not a failed call.
    expect(errors).toEqual([]);
  });
});
