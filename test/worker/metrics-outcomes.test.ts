import { randomUUID } from 'node:crypto';
import { Gauge, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClaimedJob, Deferral, Undelivered } from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { serveMetrics, workerMetrics } from '../../src/worker/metrics';
import { type FaultyProxy, startFaultyProxy } from '../support/faulty-proxy';
import { until } from '../support/until';
import { discoveryJobs, handlerOfFates, jobRows, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/** One sample's value from Prometheus' text format; NaN when the series is absent. */
const sample = (text: string, series: string) =>
  Number(
    text
      .split('\n')
      .find((line) => line.startsWith(`${series} `))
      ?.slice(series.length + 1),
  );

const handled = (text: string, outcome: string) =>
  sample(text, `tubesensei_worker_job_seconds_count{job_type="channel_discovery",outcome="${outcome}"}`);

describe('a worker’s metrics', () => {
  it('count each outcome under its own label (deferred, lease lost, released) and the claims that found no work, passing every hook on', async () => {
    const [snoozed, cancelled, stopped] = await discoveryJobs(3);
    const fates = handlerOfFates(
      new Map([
        [snoozed!.id, 'snooze'],
        [cancelled!.id, 'cancelled while running'],
        [stopped!.id, 'run until stopped'],
      ]),
    );
    const registry = new Registry();
    let running = 0;
    const passedOn = {
      deferred: [] as { id: string; reason: Deferral }[],
      leaseLost: [] as string[],
      released: [] as string[],
      idle: 0,
    };
    const worker = createTestWorker({
      url: api.url,
      concurrency: 3,
      waitMs: 200,
      graceMs: 100,
      tasks: {
        channel_discovery: (job, helpers) => {
          running += 1;
          return fates(job, helpers);
        },
      },
      hooks: workerMetrics(registry, {
        deferred: (job, reason) => passedOn.deferred.push({ id: job.id, reason }),
        leaseLost: (job) => passedOn.leaseLost.push(job.id),
        released: (jobs) => passedOn.released.push(...jobs.map((job) => job.id)),
        idle: () => (passedOn.idle += 1),
      }),
    });
    try {
      worker.start();
      await until(() => running === 3 && passedOn.deferred.length === 1 && passedOn.leaseLost.length === 1);
      // The two free slots claim again and find nothing.
      await until(() => passedOn.idle > 0);
      await worker.stop();
    } finally {
      await worker.stop();
    }

    const text = await registry.metrics();
    expect(handled(text, 'snoozed')).toBe(1);
    expect(handled(text, 'lease_lost')).toBe(1);
    expect(handled(text, 'released')).toBe(1);
    expect(handled(text, 'completed')).toBeNaN();
    expect(sample(text, 'tubesensei_worker_idle_claims_total')).toBe(passedOn.idle);
    expect(sample(text, 'tubesensei_worker_jobs_held')).toBe(0);
    expect(passedOn.deferred).toEqual([{ id: snoozed!.id, reason: 'snoozed' }]);
    expect(passedOn.leaseLost).toEqual([cancelled!.id]);
    expect(passedOn.released).toEqual([stopped!.id]);
  });

  it('count the outcomes the API never acknowledged by kind, and the calls that failed meanwhile, holding no job after the stop', async () => {
    const [done, broken] = await discoveryJobs(2, 1);
    proxy = await startFaultyProxy(api.url);
    const registry = new Registry();
    let finish: () => void = () => undefined;
    const finishing = new Promise<void>((resolve) => (finish = resolve));
    let running = 0;
    const passedOn = { errors: [] as Error[], undelivered: [] as Undelivered[] };
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 2,
      waitMs: 200,
      drainMs: 500,
      tasks: {
        channel_discovery: async (job) => {
          running += 1;
          await finishing;
          if (job.id === broken!.id) throw new Error('quota exceeded');
          return { ok: true };
        },
      },
      hooks: workerMetrics(registry, {
        error: (error) => passedOn.errors.push(error),
        undelivered: (jobs) => passedOn.undelivered.push(...jobs),
      }),
    });
    try {
      worker.start();
      await until(() => running === 2);
      expect(sample(await registry.metrics(), 'tubesensei_worker_jobs_held')).toBe(2);
      const unreachable = proxy;
      proxy = undefined;
      await unreachable.close();
      finish();
      await worker.stop();
    } finally {
      await worker.stop();
    }

    const text = await registry.metrics();
    expect(sample(text, 'tubesensei_worker_undelivered_total{outcome="complete"}')).toBe(1);
    expect(sample(text, 'tubesensei_worker_undelivered_total{outcome="fail"}')).toBe(1);
    expect(sample(text, 'tubesensei_worker_call_errors_total')).toBe(passedOn.errors.length);
    expect(passedOn.errors.length).toBeGreaterThan(0);
    expect(sample(text, 'tubesensei_worker_jobs_held')).toBe(0);
    expect(handled(text, 'completed')).toBeNaN();
    expect(handled(text, 'failed')).toBeNaN();
    expect(passedOn.undelivered.map(({ job }) => job.id).sort()).toEqual([done!.id, broken!.id].sort());
  });

  it('time each job in seconds, from its handler’s start to its outcome', async () => {
    const [, broken, snoozed] = await discoveryJobs(3);
    const registry = new Registry();
    const durations: number[] = [];
    const worker = createTestWorker({
      url: api.url,
      concurrency: 3,
      waitMs: 200,
      tasks: {
        channel_discovery: async (job, helpers) => {
          await new Promise((resolve) => setTimeout(resolve, 100));
          if (job.id === broken!.id) throw new Error('the channel page did not load');
          if (job.id === snoozed!.id) return helpers.snooze(600);
          return { ok: true };
        },
      },
      hooks: workerMetrics(registry, { completed: (_job, durationMs) => durations.push(durationMs) }),
    });
    const startedBefore = performance.now();
    try {
      worker.start();
      await until(async () => {
        const text = await registry.metrics();
        return handled(text, 'completed') + handled(text, 'failed') + handled(text, 'snoozed') === 3;
      });
    } finally {
      await worker.stop();
    }
    const most = (performance.now() - startedBefore) / 1_000;

    expect(durations).toHaveLength(1);
    expect(durations[0]).toBeGreaterThanOrEqual(100);
    expect(durations[0]! / 1_000).toBeLessThanOrEqual(most);
    const text = await registry.metrics();
    for (const outcome of ['completed', 'failed', 'snoozed']) {
      const seconds = sample(
        text,
        `tubesensei_worker_job_seconds_sum{job_type="channel_discovery",outcome="${outcome}"}`,
      );
      expect(seconds).toBeGreaterThanOrEqual(0.1);
      expect(seconds).toBeLessThanOrEqual(most);
    }
  });

  // A metered worker with no hooks of its own passes each outcome on to nothing: a hook called as if given would
  // throw inside the worker, and its call error would be counted (or the stop would reject).
  it('count every outcome, and no call error, with no hooks to pass them on to', async () => {
    const [snoozed, done, broken, retried, cancelled, stopped] = await discoveryJobs(6);
    const registry = new Registry();
    const worker = createTestWorker({
      url: api.url,
      concurrency: 6,
      waitMs: 200,
      graceMs: 100,
      tasks: {
        channel_discovery: handlerOfFates(
          new Map([
            [snoozed!.id, 'snooze'],
            [broken!.id, 'fail for good'],
            [retried!.id, 'fail'],
            [cancelled!.id, 'cancelled while running'],
            [stopped!.id, 'run until stopped'],
          ]),
        ),
      },
      hooks: workerMetrics(registry),
    });
    const outcomes = ['snoozed', 'completed', 'failed_permanently', 'failed', 'lease_lost'];
    try {
      worker.start();
      await until(async () => {
        const text = await registry.metrics();
        return (
          outcomes.every((outcome) => handled(text, outcome) === 1) &&
          sample(text, 'tubesensei_worker_idle_claims_total') > 0
        );
      });
      await worker.stop();
    } finally {
      await worker.stop();
    }
    const text = await registry.metrics();
    expect(handled(text, 'released')).toBe(1);
    expect(sample(text, 'tubesensei_worker_call_errors_total')).toBe(0);
    expect(sample(text, 'tubesensei_worker_jobs_held')).toBe(0);
    const rows = await jobRows([snoozed!.id, done!.id, broken!.id, retried!.id, stopped!.id]);
    const statusOf = (id: string) => rows.find((row: { id: string }) => row.id === id)?.status;
    expect(rows.find((row: { id: string }) => row.id === snoozed!.id)).toMatchObject({
      wait_reason: 'snoozed',
    });
    expect([snoozed, done, broken, retried, stopped].map((job) => statusOf(job!.id))).toEqual([
      'queued',
      'completed',
      'failed',
      'queued',
      'queued',
    ]);
  });

  it('count a failed call and the outcomes left undelivered at a stop, with no hooks to pass them on to', async () => {
    const jobs = await discoveryJobs(2);
    proxy = await startFaultyProxy(api.url);
    let refused = 0;
    proxy.decide = ({ calls }) =>
      calls.some((call) => call.procedure === 'jobs.completeMany') && refused++ === 0
        ? 'unavailable'
        : 'pass';
    const registry = new Registry();
    let finishSecond: () => void = () => undefined;
    const secondFinishing = new Promise<void>((resolve) => (finishSecond = resolve));
    let runs = 0;
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 200,
      drainMs: 500,
      tasks: {
        channel_discovery: async () => {
          runs += 1;
          if (runs === 2) await secondFinishing;
          return { ok: true };
        },
      },
      hooks: workerMetrics(registry),
    });
    const statuses = async () => (await jobRows(jobs.map((job) => job!.id))).map((row) => row.status).sort();
    try {
      worker.start();
      // The first job's completion is refused once, then sent again and acknowledged, while the second runs.
      await until(
        async () =>
          handled(await registry.metrics(), 'completed') === 1 &&
          (await statuses()).join() === 'completed,running',
      );
      expect(sample(await registry.metrics(), 'tubesensei_worker_call_errors_total')).toBe(1);
      const unreachable = proxy;
      proxy = undefined;
      await unreachable.close();
      finishSecond();
      await worker.stop();
    } finally {
      await worker.stop();
    }
    const text = await registry.metrics();
    expect(sample(text, 'tubesensei_worker_undelivered_total{outcome="complete"}')).toBe(1);
    expect(sample(text, 'tubesensei_worker_jobs_held')).toBe(0);
  });

  it('time an outcome of a job it never saw claimed only by the duration it carries (a completion’s), never as a time that is not a number', async () => {
    const claimed = { id: randomUUID(), jobType: 'channel_discovery' } as ClaimedJob;
    const registry = new Registry();
    const hooks = workerMetrics(registry);
    hooks.failed?.(claimed, new Error('not from this worker'), false);
    hooks.deferred?.(claimed, 'snoozed', new Date());
    hooks.completed?.(claimed, 250);
    const text = await registry.metrics();
    expect(handled(text, 'failed')).toBeNaN();
    expect(handled(text, 'snoozed')).toBeNaN();
    expect(handled(text, 'completed')).toBe(1);
    expect(
      sample(text, 'tubesensei_worker_job_seconds_sum{job_type="channel_discovery",outcome="completed"}'),
    ).toBe(0.25);
  });
});

describe('a worker’s metrics endpoint', () => {
  const token = 'worker-metrics-token-of-the-test';

  it('serves a scrape with the right bearer token, query string and all, and rejects a wrong one with 401', async () => {
    const registry = new Registry();
    const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0, token });
    try {
      const wrong = await fetch(`${server.url}/metrics`, {
        headers: { authorization: 'Bearer not-the-token' },
      });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toBe('Bearer');
      expect(wrong.headers.get('content-type')).toBe('text/plain');
      expect(await wrong.text()).toMatch(/Authorization: Bearer/);
      const basic = await fetch(`${server.url}/metrics`, { headers: { authorization: `Basic ${token}` } });
      expect(basic.status).toBe(401);
      const right = await fetch(`${server.url}/metrics?name[]=x`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(right.status).toBe(200);
      expect(right.headers.get('content-type')).toBe(registry.contentType);
    } finally {
      await server.close();
    }
  });

  it('serves anyone when no token is set, and only GET /metrics: other paths and methods are 404', async () => {
    const registry = new Registry();
    const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0 });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
      expect((await fetch(`${server.url}/metrics`, { method: 'POST' })).status).toBe(404);
      expect((await fetch(`${server.url}/metrics/extra`)).status).toBe(404);
      expect((await fetch(`${server.url}/`)).status).toBe(404);
    } finally {
      await server.close();
    }
    // Closed when `close()` resolves: the port no longer accepts connections.
    await expect(fetch(`${server.url}/metrics`)).rejects.toThrow();
  });

  it('closes only once a scrape in flight has had its response', async () => {
    const registry = new Registry();
    let finishCollecting: () => void = () => undefined;
    const collecting = new Promise<void>((resolve) => (finishCollecting = resolve));
    let collectStarted = false;
    new Gauge({
      name: 'tubesensei_test_slow',
      help: 'A gauge whose collection waits for the test.',
      registers: [registry],
      async collect() {
        collectStarted = true;
        await collecting;
        this.set(1);
      },
    });
    const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0 });
    const scrape = fetch(`${server.url}/metrics`);
    await until(() => collectStarted);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(closed).toBe(false);
    finishCollecting();
    const response = await scrape;
    expect(response.status).toBe(200);
    expect(sample(await response.text(), 'tubesensei_test_slow')).toBe(1);
    await closing;
  });

  it('responds 500, and keeps serving, when a metric cannot be collected', async () => {
    const registry = new Registry();
    let broken = true;
    new Gauge({
      name: 'tubesensei_test_collected',
      help: 'A gauge whose collection fails while `broken` is set.',
      registers: [registry],
      collect() {
        if (broken) throw new Error('the source of this gauge is gone');
        this.set(1);
      },
    });
    const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0 });
    try {
      expect((await fetch(`${server.url}/metrics`)).status).toBe(500);
      broken = false;
      const response = await fetch(`${server.url}/metrics`);
      expect(response.status).toBe(200);
      expect(sample(await response.text(), 'tubesensei_test_collected')).toBe(1);
    } finally {
      await server.close();
    }
  });
});
