import { claimJobsInput } from '../src/schemas/processing-job';
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import superjson from 'superjson';
import { channelFactory, discoveredVideos, processingSessionFactory } from '../dev/factories';
import { claimJobs, completeJob, enqueueJobs } from '../src/queue/job-queue';
import { testDatabase } from './support/database';

const root = path.resolve(__dirname, '..');

function start(script: string, env: Record<string, string>): ChildProcess {
  return fork(path.join(root, script), {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
}

describe('a worker process killed in the middle of a job', () => {
  it('loses the job only until its lease expires; another worker finishes it, once', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const channel = await channelFactory.create();
    const [job] = await enqueueJobs(testDatabase().db, [
      { jobType: 'channel_discovery', entityType: 'channel', entityId: channel.id, sessionId: session.id },
    ]);
    const worker = start('test/support/stalled-worker.ts', { DATABASE_URL: testDatabase().url });
    const [message] = (await once(worker, 'message')) as [{ jobId: string | null }];
    expect(message.jobId).toBe(job!.id);
    worker.kill('SIGKILL');
    await once(worker, 'exit');

    // Three seconds of lease leave room for the kill on a loaded machine: the job is not taken while it lasts.
    expect(
      await claimJobs(testDatabase().db, claimJobsInput.parse({ workerId: 'survivor', limit: 1 })),
    ).toEqual([]);
    const { lease_expires_at: leaseEnds } = await testDatabase()
      .db('processing_jobs')
      .where({ id: job!.id })
      .first('lease_expires_at');
    await sleep(Math.max(0, leaseEnds.getTime() - Date.now()) + 100);
    const [taken] = await claimJobs(
      testDatabase().db,
      claimJobsInput.parse({ workerId: 'survivor', limit: 1 }),
    );
    expect(taken).toMatchObject({ id: job!.id, attempts: 2, lockedBy: 'survivor' });
    const done = await completeJob(testDatabase().db, {
      id: taken!.id,
      leaseToken: taken!.leaseToken!,
      result: { by: 'survivor' },
    });
    expect(done).toMatchObject({ status: 'completed', result: { by: 'survivor' } });
    const row = await testDatabase()
      .db('processing_sessions')
      .where({ id: session.id })
      .first('processed_videos');
    expect(row.processed_videos).toBe(1);
  }, 30_000);
});

describe('SIGTERM under load', () => {
  it('finishes the requests in flight, rejects new ones, and exits 0', async () => {
    const server = start('src/main.ts', {
      DATABASE_URL: testDatabase().url,
      PORT: '0',
      LOG_LEVEL: 'debug',
      NODE_ENV: 'test',
    });
    let output = '';
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    while (!/TubeSensei API on (http:\/\/[\d.:]+)/.test(output)) {
      expect(server.exitCode).toBeNull();
      await sleep(50);
    }
    const address = /TubeSensei API on (http:\/\/[\d.:]+)/.exec(output)![1]!;
    const agent = request(address);

    // Slow requests (500-video upserts), and SIGTERM only once the server has logged every one of them as received.
    const channel = await channelFactory.create();
    const batch = () => discoveredVideos(500);
    const inFlight = Array.from({ length: 8 }, () =>
      agent
        .post('/trpc/videos.upsertMany')
        .set('content-type', 'application/json')
        .send(superjson.serialize({ channelId: channel.id, videos: batch() }))
        .then((response) => response.status),
    );
    while ((output.match(/incoming request/g) ?? []).length < inFlight.length) await sleep(5);
    server.kill('SIGTERM');
    const [code] = (await once(server, 'exit')) as [number];
    const statuses = await Promise.all(inFlight);

    expect(code).toBe(0);
    expect(statuses.filter((status) => status === 200).length).toBe(statuses.length);
    await expect(agent.get('/health')).rejects.toThrow(/ECONNREFUSED/);
  }, 60_000);
});
