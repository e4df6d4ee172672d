import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestWorker } from '../support/test-worker';
import { type FaultyProxy, jobIdsOf, startFaultyProxy } from '../support/faulty-proxy';
import { spinning, timersArmedInASecond } from '../support/timers-armed';
import { until } from '../support/until';
import { discoveryJobs, jobRows, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

const allCompleted = async (ids: string[]) =>
  (await jobRows(ids)).every((row: { status: string }) => row.status === 'completed');

describe('a worker waiting to send an outcome', () => {
  it('waits out a refused completion’s retry-after without spinning, then sends it', async () => {
    const [job] = await discoveryJobs(1);
    proxy = await startFaultyProxy(api.url);
    proxy.retryAfter = '2';
    let refused = 0;
    proxy.decide = (request) =>
      jobIdsOf(request, 'jobs.completeMany').length > 0 && refused++ === 0 ? 'unavailable' : 'pass';
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 1,
      waitMs: 200,
      tasks: { channel_discovery: () => null },
    });
    try {
      worker.start();
      await until(() => refused > 0);
      expect(await timersArmedInASecond()).toBeLessThan(spinning);
      await until(() => allCompleted([job!.id]));
    } finally {
      await worker.stop();
    }
  });

  it('waits for its completion call in flight to come free without spinning, sending a failure again meanwhile', async () => {
    const jobs = await discoveryJobs(4);
    proxy = await startFaultyProxy(api.url);
    let letThrough: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (letThrough = resolve));
    proxy.hold = (request) => (jobIdsOf(request, 'jobs.completeMany').length > 0 ? held : undefined);
    proxy.retryAfter = '1';
    const failCalls = () => proxy!.requests.filter((request) => jobIdsOf(request, 'jobs.fail').length > 0);
    proxy.decide = (request) =>
      jobIdsOf(request, 'jobs.fail').length > 0 && failCalls().length === 0 ? 'unavailable' : 'pass';
    let started = 0;
    let finished = 0;
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 4,
      waitMs: 200,
      tasks: {
        // One after another: the first completion goes in a call of its own, held, and the next two wait for it
        // (a call takes a batch or less at a time); the last fails.
        channel_discovery: async () => {
          started += 1;
          const nth = started;
          await sleep(100 * nth);
          finished += 1;
          if (nth === 4) throw new Error('the channel page did not load');
          return null;
        },
      },
    });
    const completionCalls = () =>
      proxy!.requests.filter((request) => jobIdsOf(request, 'jobs.completeMany').length > 0).length;
    try {
      worker.start();
      await until(() => completionCalls() === 1 && finished === 4);
      expect(await timersArmedInASecond()).toBeLessThan(spinning);
      // Refused once, the failure goes out again a second later, while the completion call is still held.
      await until(() => failCalls().length === 2, 5_000);
      expect(completionCalls()).toBe(1);
      letThrough();
      await until(() => allCompleted(jobs.slice(0, 3).map((job) => job!.id)));
    } finally {
      letThrough();
      await worker.stop();
    }
  });
});

describe('a worker holding a running job’s lease', () => {
  it('waits between renewals without spinning', async () => {
    const [job] = await discoveryJobs(1);
    let running = false;
    let finish: () => void = () => undefined;
    const finishing = new Promise<void>((resolve) => (finish = resolve));
    const worker = createTestWorker({
      url: api.url,
      concurrency: 1,
      // Idle claims wait long, so that the second measured is the lease keeper's.
      waitMs: 10_000,
      leaseSeconds: 60,
      tasks: {
        channel_discovery: async () => {
          running = true;
          await finishing;
          return null;
        },
      },
    });
    try {
      worker.start();
      await until(() => running);
      expect(await timersArmedInASecond()).toBeLessThan(spinning);
      finish();
      await until(() => allCompleted([job!.id]));
    } finally {
      finish();
      await worker.stop();
    }
  });
});
