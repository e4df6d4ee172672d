import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { type ClaimedJob, type Deferral, RateLimitedError, type Task } from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { claimJobs, completeJob, requeueJob } from '../../src/queue/job-queue';
import { claimJobsInput } from '../../src/schemas/processing-job';
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

/** The first request carrying a call of each procedure in `faults` meets that fault; every other request passes. */
function firstCallFails(faults: Record<string, 'unavailable' | 'reset-after'>): FaultyProxy['decide'] {
  const met = new Set<string>();
  return ({ calls }) => {
    for (const { procedure } of calls) {
      const fault = faults[procedure];
      if (fault && !met.has(procedure)) {
        met.add(procedure);
        return fault;
      }
    }
    return 'pass';
  };
}

/** A worker through the proxy running `task`, with what its hooks report. */
function observedWorker(task: Task<'channel_discovery'>) {
  const seen = {
    completed: [] as string[],
    deferred: [] as { id: string; reason: Deferral; until: Date }[],
    leaseLost: [] as string[],
    /** Why each lease was lost, as the API said. */
    lostBecause: [] as string[],
  };
  const worker = createTestWorker({
    url: proxy!.url,
    concurrency: 1,
    waitMs: 200,
    tasks: { channel_discovery: task },
    hooks: {
      completed: (job: ClaimedJob) => seen.completed.push(job.id),
      deferred: (job, reason, at) => seen.deferred.push({ id: job.id, reason, until: at }),
      leaseLost: (job, reason) => {
        seen.leaseLost.push(job.id);
        seen.lostBecause.push(reason);
      },
    },
  });
  return { worker, seen };
}

describe('an outcome replaced while its call is in flight', () => {
  it('keeps the new outcome of a job claimed again, and sends it again when its own call fails', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    proxy.retryAfter = '0';
    // Renewals fail, so the first lease runs out while its completion is held; the second run's completion meets
    // a 503 once the first call's rejection has come back.
    let completions = 0;
    proxy.decide = ({ calls }) => {
      if (calls.some((call) => call.procedure === 'jobs.heartbeat')) return 'reset';
      if (!calls.some((call) => call.procedure === 'jobs.completeMany')) return 'pass';
      completions += 1;
      return completions === 2 ? 'unavailable' : 'pass';
    };
    let releaseFirst: () => void = () => undefined;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    const secondHeld = firstHeld.then(() => sleep(300));
    proxy.hold = ({ calls }) => {
      if (!calls.some((call) => call.procedure === 'jobs.completeMany')) return undefined;
      return completions === 1 ? firstHeld : completions === 2 ? secondHeld : undefined;
    };
    let runs = 0;
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 200,
      leaseSeconds: 2,
      tasks: {
        channel_discovery: () => {
          runs += 1;
          // The second run's outcome replaces the first's, whose call is still held.
          if (runs === 2) setTimeout(releaseFirst, 100);
          return null;
        },
      },
    });
    try {
      worker.start();
      await until(async () => (await jobRow(job!.id)).status === 'completed', 15_000);
    } finally {
      releaseFirst();
      await worker.stop();
    }
    expect(runs).toBe(2);
    expect(await jobRow(job!.id)).toMatchObject({ status: 'completed', attempts: 2 });
  });
});

describe('a worker that cannot tell whether its call reached the API', () => {
  const deferrals: {
    what: string;
    procedure: string;
    task: Task<'channel_discovery'>;
    reason: Deferral;
    detail: string;
  }[] = [
    {
      what: 'a snooze',
      procedure: 'jobs.snooze',
      // Sent trimmed: the job read back shows the reason without the spaces.
      task: (_job, helpers) => helpers.snooze(600, '  the premiere has not aired yet  '),
      reason: 'snoozed',
      detail: 'the premiere has not aired yet',
    },
    {
      what: 'a snooze whose reason is cut at 1,000 characters just before a space',
      procedure: 'jobs.snooze',
      task: (_job, helpers) => helpers.snooze(600, `${'r'.repeat(999)} and more`),
      reason: 'snoozed',
      detail: 'r'.repeat(999),
    },
    {
      what: 'a rate-limited failure',
      procedure: 'jobs.fail',
      task: () => {
        throw new RateLimitedError('429 from the transcript host', { retryAfterSeconds: 600 });
      },
      reason: 'rate_limited',
      detail: '429 from the transcript host',
    },
  ];

  for (const { what, procedure, task, reason, detail } of deferrals) {
    it(`acknowledges ${what} the API ran before the connection reset, by the wait it stored, and reports no lease lost`, async () => {
      const [job] = await discoveryJobs(1);
      proxy = await startFaultyProxy(api.url);
      proxy.decide = firstCallFails({ [procedure]: 'reset-after' });
      const { worker, seen } = observedWorker(task);
      try {
        worker.start();
        await until(() => seen.deferred.length + seen.leaseLost.length > 0);
      } finally {
        await worker.stop();
      }

      const row = await jobRow(job!.id);
      expect(row).toMatchObject({ status: 'queued', attempts: 0, wait_reason: reason, wait_detail: detail });
      expect(seen.leaseLost).toEqual([]);
      expect(seen.deferred).toEqual([{ id: job!.id, reason, until: row.run_after }]);
      expect(proxy.requests.some(({ calls }) => calls.some((call) => call.procedure === 'jobs.get'))).toBe(
        true,
      );
    });
  }

  it('reads the job back again as retry-after says when its first read fails, and acknowledges the completion it finds', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    proxy.retryAfter = '2';
    proxy.decide = firstCallFails({ 'jobs.completeMany': 'reset-after', 'jobs.get': 'unavailable' });
    const { worker, seen } = observedWorker(() => ({ ok: true }));
    try {
      worker.start();
      await until(() => seen.completed.length + seen.leaseLost.length > 0);
      await worker.stop();
    } finally {
      await worker.stop();
    }

    expect(seen.leaseLost).toEqual([]);
    expect(seen.completed).toEqual([job!.id]);
    expect(await jobRow(job!.id)).toMatchObject({ status: 'completed', attempts: 1, result: { ok: true } });
    // A query's input is in its URL, which the proxy does not read: the read is known by its procedure.
    const failedRead = proxy.requests.find((request) => request.fault === 'unavailable')!;
    expect(failedRead.calls.map((call) => call.procedure)).toContain('jobs.get');
    const next = proxy.requests.find(
      (request) => request.at > failedRead.at && jobIdsOf(request, 'jobs.completeMany').includes(job!.id),
    )!;
    expect(next.at - failedRead.at).toBeGreaterThanOrEqual(2_000);
  });

  it('reports the lease lost, saying why as the API did, without reading the job back when the first call of its outcome is rejected', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    const { worker, seen } = observedWorker(async (claimed) => {
      // An admin cancels the job while its handler runs: the completion, sent once, is rejected.
      await testDatabase()
        .db('processing_jobs')
        .where({ id: claimed.id })
        .update({ status: 'cancelled', lease_token: null, lease_expires_at: null });
      return { by: 'the worker' };
    });
    try {
      worker.start();
      await until(() => seen.leaseLost.length > 0);
    } finally {
      await worker.stop();
    }

    expect(seen.leaseLost).toEqual([job!.id]);
    expect(seen.lostBecause).toEqual(['the job is cancelled']);
    expect(seen.completed).toEqual([]);
    expect(proxy.requests.some(({ calls }) => calls.some((call) => call.procedure === 'jobs.get'))).toBe(
      false,
    );
  });

  it('reports the lease lost, reading the job back once, when the job was deleted while its failure was being sent again', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    proxy.decide = firstCallFails({ 'jobs.fail': 'unavailable' });
    let deleted: Promise<unknown> | undefined;
    let failCalls = 0;
    // The failure sent again reaches the API only after an admin deleted the job.
    proxy.hold = ({ calls }) =>
      calls.some((call) => call.procedure === 'jobs.fail') && ++failCalls === 2
        ? (deleted = testDatabase().db('processing_jobs').where({ id: job!.id }).delete())
        : undefined;
    const { worker, seen } = observedWorker(() => {
      throw new Error('the channel feed timed out');
    });
    try {
      worker.start();
      await until(() => seen.leaseLost.length > 0, 10_000);
    } finally {
      await worker.stop();
    }

    expect(deleted).toBeDefined();
    expect(seen.leaseLost).toEqual([job!.id]);
    const reads = proxy.requests.filter(({ calls }) => calls.some((call) => call.procedure === 'jobs.get'));
    expect(reads).toHaveLength(1);
    expect(await jobRow(job!.id)).toBeUndefined();
  });

  it('reports the lease lost, not a completion, when the job it reads back was completed by another worker after an admin requeued it', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    let completedByOther = false;
    let claims = 0;
    proxy.decide = (request) => {
      // Only its first claim reaches the API: a later one, waiting there, would take the job the admin requeues.
      if (request.calls.some((call) => call.procedure === 'jobs.claim') && ++claims > 1) return 'reset';
      return !completedByOther && jobIdsOf(request, 'jobs.completeMany').length > 0 ? 'unavailable' : 'pass';
    };
    const { worker, seen } = observedWorker(() => ({ by: 'the worker' }));
    try {
      worker.start();
      await until(() => proxy!.requests.some((request) => request.fault === 'unavailable'));
      // The admin gives the attempt back, so the other worker's claim runs the same attempt as this worker's.
      const db = testDatabase().db;
      await requeueJob(db, { id: job!.id, requeuedBy: 'admin', reason: 'the worker looks stuck' });
      const [taken] = await claimJobs(db, claimJobsInput.parse({ workerId: 'other' }));
      expect(taken?.id).toBe(job!.id);
      await completeJob(db, {
        id: taken!.id,
        leaseToken: taken!.leaseToken!,
        result: { by: 'the other worker' },
      });
      completedByOther = true;
      await until(() => seen.completed.length + seen.leaseLost.length > 0);
      await worker.stop();
    } finally {
      await worker.stop();
    }

    expect(seen.completed).toEqual([]);
    expect(seen.leaseLost).toEqual([job!.id]);
    expect(await jobRow(job!.id)).toMatchObject({
      status: 'completed',
      attempts: 1,
      locked_by: 'other',
      result: { by: 'the other worker' },
    });
  });
});
