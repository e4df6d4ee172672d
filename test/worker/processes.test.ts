import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { createClient } from '../../src/client';
import { createTestWorker } from '../support/test-worker';
import { channelFactory, videoFactory } from '../../dev/factories';
import { enqueueJobs } from '../../src/queue/job-queue';
import { exampleHandlers } from '../../dev/example-handlers';
import { testDatabase } from '../support/database';
import { until } from '../support/until';
import { type Started, startApi } from '../support/processes';

const root = path.resolve(__dirname, '..', '..');
const db = () => testDatabase().db;
let server: FastifyInstance;
let url: string;

beforeAll(async () => {
  server = await buildApp({ db: db(), logger: false, tokens: [], production: false });
  url = await server.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => server.close());
beforeEach(async () => {
  await db()('processing_jobs').delete();
});

function forkWorker(script: string, env: Record<string, string>): ChildProcess {
  return fork(path.join(root, script), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, API_URL: url, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
}

const statusCounts = async () =>
  Object.fromEntries(
    (await db()('processing_jobs').groupBy('status').select('status', db().raw('count(*)::int AS n'))).map(
      (row: { status: string; n: number }) => [row.status, row.n],
    ),
  );

describe('worker processes', () => {
  it('loses nothing when a worker is SIGKILLed mid-job: another takes it over after the lease, once', async () => {
    const channel = await channelFactory.create();
    const [job] = await enqueueJobs(db(), [
      { jobType: 'channel_discovery', entityType: 'channel', entityId: channel.id },
    ]);
    const doomed = forkWorker('test/support/blocking-worker.ts', { LEASE_SECONDS: '3' });
    const [message] = (await once(doomed, 'message')) as [{ started: string }];
    expect(message.started).toBe(job!.id);
    doomed.kill('SIGKILL');
    await once(doomed, 'exit');

    const runs: string[] = [];
    const survivor = createTestWorker({
      url,
      workerId: 'survivor',
      concurrency: 1,
      waitMs: 10_000,
      tasks: {
        channel_discovery: (claimed) => {
          runs.push(claimed.id);
          return { by: 'survivor' };
        },
      },
    });
    survivor.start();
    await until(
      async () => (await db()('processing_jobs').where({ id: job!.id }).first()).status === 'completed',
    );
    await survivor.stop();
    expect(runs).toEqual([job!.id]);
    expect(await db()('processing_jobs').where({ id: job!.id }).first()).toMatchObject({
      attempts: 2,
      locked_by: 'survivor',
      result: { by: 'survivor' },
    });
  }, 30_000);

  it('exits 0 on SIGTERM under load, releasing what it could not finish; nothing is lost or done twice', async () => {
    const videos = await videoFactory.createList(24);
    await enqueueJobs(
      db(),
      videos.map((video) => ({ jobType: 'transcript_extraction', entityType: 'video', entityId: video.id })),
    );
    const worker = forkWorker('dev/demo-worker.ts', {
      WORKER_CONCURRENCY: '4',
      WORKER_JOB_MS: '400',
      WORKER_FAILURE_RATE: '0',
      WORKER_GRACE_MS: '150',
    });
    await until(async () => ((await statusCounts()).completed ?? 0) >= 4);
    worker.kill('SIGTERM');
    const [code] = (await once(worker, 'exit')) as [number];
    expect(code).toBe(0);
    const afterStop = await statusCounts();
    expect(afterStop.running ?? 0).toBe(0);
    // Released jobs spent no attempt.
    expect(await db()('processing_jobs').where({ status: 'queued' }).where('attempts', '>', 0)).toEqual([]);

    const finisher = createTestWorker({
      url,
      concurrency: 8,
      waitMs: 200,
      tasks: exampleHandlers({ workMs: 0, failureRate: 0 }),
    });
    finisher.start();
    await until(async () => ((await statusCounts()).completed ?? 0) === videos.length);
    await finisher.stop();
    // A transcript job run twice would have stored a second transcript.
    const perVideo = await db()('transcripts')
      .whereIn(
        'video_id',
        videos.map((video) => video.id),
      )
      .groupBy('video_id')
      .select('video_id', db().raw('count(*)::int AS n'));
    expect(perVideo).toHaveLength(videos.length);
    expect(perVideo.every((row: { n: number }) => row.n === 1)).toBe(true);
  }, 60_000);

  describe('with a second API process on the same database', () => {
    let other: Started;
    beforeAll(async () => {
      other = await startApi({ DATABASE_URL: testDatabase().url, NODE_ENV: 'test' });
    }, 60_000);
    afterAll(() => other?.stop());

    it('wakes a worker waiting on one process for an enqueue made through the other, long before its wait ends', async () => {
      const waitMs = 20_000;
      const started: number[] = [];
      const worker = createTestWorker({
        url,
        concurrency: 1,
        waitMs,
        tasks: {
          channel_discovery: () => {
            started.push(performance.now());
            return null;
          },
        },
      });
      worker.start();
      // The worker is waiting in its claim by now.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const channel = await channelFactory.create();
      const enqueuedAt = performance.now();
      await createClient({ url: other.url }).jobs.enqueue.mutate({
        jobType: 'channel_discovery',
        entityType: 'channel',
        entityId: channel.id,
      });
      await until(() => started.length === 1, waitMs / 2);
      const stopping = performance.now();
      await worker.stop();
      console.info(`stop took ${(performance.now() - stopping).toFixed(0)} ms`);
      const latency = started[0]! - enqueuedAt;
      console.info(`enqueue through another API process to handler start: ${latency.toFixed(1)} ms`);
      // A worker that was not woken would take the job only when its wait ran out.
      expect(latency).toBeLessThan(waitMs / 2);
    }, 30_000);
  });
});
