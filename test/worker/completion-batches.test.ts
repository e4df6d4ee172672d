import { afterEach, describe, expect, it } from 'vitest';
import type { Task } from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { videoFactory } from '../../dev/factories';
import { testDatabase } from '../support/database';
import { type FaultyProxy, slowDown, startFaultyProxy } from '../support/faulty-proxy';
import { until } from '../support/until';
import { discoveryJobs, jobRows, useWorkerApi } from '../support/worker-api';

const api = useWorkerApi();
let proxy: FaultyProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

/** The jobs each `jobs.completeMany` call carried, call by call, in the order they arrived. */
const completionCalls = (requests: FaultyProxy['requests']) =>
  requests.flatMap(({ calls }) =>
    calls
      .filter((call) => call.procedure === 'jobs.completeMany')
      .map((call) => (call.input as { jobs: { id: string; followUps?: unknown[] }[] }).jobs),
  );

/**
 * Runs `count` jobs through a worker (behind the proxy) whose handlers all wait until every one of them is running,
 * then finish together, in one turn of the event loop; returns what each completion call carried.
 */
async function finishingTogether(count: number, task: Task<'channel_discovery'>) {
  proxy = await startFaultyProxy(api.url);
  let running = 0;
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const failed: string[] = [];
  const completed: string[] = [];
  const worker = createTestWorker({
    url: proxy.url,
    concurrency: count,
    waitMs: 200,
    tasks: {
      channel_discovery: async (job, helpers) => {
        running += 1;
        await gate;
        return task(job, helpers);
      },
    },
    hooks: {
      failed: (job) => failed.push(job.id),
      completed: (job) => completed.push(job.id),
    },
  });
  try {
    worker.start();
    await until(() => running === count);
    open();
    await until(() => completed.length + failed.length === count);
    await worker.stop();
  } finally {
    await worker.stop();
  }
  const completionRequests = proxy.requests.filter(({ calls }) =>
    calls.some((call) => call.procedure === 'jobs.completeMany'),
  ).length;
  return { failed, completed, calls: completionCalls(proxy.requests), completionRequests };
}

describe('a worker completing jobs that finish together', () => {
  it('completes 150 of them in two calls sent together, of the 100 jobs a call takes at most and the rest', async () => {
    const jobs = await discoveryJobs(150);
    const run = await finishingTogether(150, () => ({ ok: true }));

    expect(run.failed).toEqual([]);
    expect(run.completed).toHaveLength(150);
    expect(run.calls.map((call) => call.length)).toEqual([100, 50]);
    expect(run.completionRequests).toBe(1);
    const rows = await jobRows(jobs.map((job) => job.id));
    expect(rows.filter((row: { status: string }) => row.status !== 'completed')).toEqual([]);
  });

  it('completes a job with the 1,000 follow-up jobs a call takes at most in the same call as a job beside it', async () => {
    const [discovery, other] = await discoveryJobs(2);
    const videos = await videoFactory.createList(1_000, { status: 'discovered' });
    const run = await finishingTogether(2, (job, helpers) => {
      if (job.id === discovery!.id) {
        helpers.followUp(
          ...videos.map((video) => ({
            jobType: 'transcript_extraction' as const,
            entityType: 'video' as const,
            entityId: video.id,
          })),
        );
      }
      return { ok: true };
    });

    expect(run.failed).toEqual([]);
    expect(run.calls.map((call) => call.map((job) => [job.id, job.followUps?.length ?? 0]))).toEqual([
      expect.arrayContaining([
        [discovery!.id, 1_000],
        [other!.id, 0],
      ]),
    ]);
    const followUps = await testDatabase()
      .db('processing_jobs')
      .where({ job_type: 'transcript_extraction', status: 'queued' })
      .count();
    expect(Number(followUps[0]!.count)).toBe(1_000);
  });

  it('completes two jobs whose follow-up jobs come to 1,001 in two calls, one past what a call takes', async () => {
    const [first, second] = await discoveryJobs(2);
    const videos = await videoFactory.createList(1_001, { status: 'discovered' });
    const run = await finishingTogether(2, (job, helpers) => {
      const mine = job.id === first!.id ? videos.slice(0, 500) : videos.slice(500);
      helpers.followUp(
        ...mine.map((video) => ({
          jobType: 'transcript_extraction' as const,
          entityType: 'video' as const,
          entityId: video.id,
        })),
      );
      return { ok: true };
    });

    expect(run.failed).toEqual([]);
    const calls = run.calls.map((call) => call.map((job) => [job.id, job.followUps?.length ?? 0]));
    expect(calls).toHaveLength(2);
    expect(calls.flat()).toEqual(
      expect.arrayContaining([
        [first!.id, 500],
        [second!.id, 501],
      ]),
    );
    const followUps = await testDatabase()
      .db('processing_jobs')
      .where({ job_type: 'transcript_extraction', status: 'queued' })
      .count();
    expect(Number(followUps[0]!.count)).toBe(1_001);
  });
});

describe('a worker completing jobs that finish one after another', () => {
  it('keeps one completion call in flight while a batch or less waits, gathering what finishes meanwhile into the next', async () => {
    const jobs = await discoveryJobs(8);
    proxy = await startFaultyProxy(api.url);
    // Each completion call takes 300 ms to respond.
    const completions = slowDown(proxy, 'jobs.completeMany', 300);
    let started = 0;
    const completed: string[] = [];
    const worker = createTestWorker({
      url: proxy.url,
      concurrency: 8,
      waitMs: 200,
      tasks: {
        // One finishes every 40 ms.
        channel_discovery: async () => {
          started += 1;
          await new Promise((resolve) => setTimeout(resolve, started * 40));
          return null;
        },
      },
      hooks: { completed: (job) => completed.push(job.id) },
    });
    try {
      worker.start();
      await until(() => completed.length === jobs.length);
    } finally {
      await worker.stop();
    }

    expect(completions.mostAtOnce).toBe(1);
    const calls = completionCalls(proxy.requests);
    expect(
      calls
        .flat()
        .map((job) => job.id)
        .sort(),
    ).toEqual(jobs.map((job) => job.id).sort());
    expect(calls.length).toBeLessThan(jobs.length);
  });
});
