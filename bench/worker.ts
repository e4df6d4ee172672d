import type { Knex } from 'knex';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import { channelFactory } from '../dev/factories';
import { createWorker } from '../src/worker';
import { enqueueJobs } from '../src/queue/job-queue';
import { type QueueResult, queueResult } from './queue';

/** The work each bench job does, the same in both runtimes. */
export interface BenchHandler {
  name: string;
  work(): Promise<void> | void;
}

export const benchHandlers: BenchHandler[] = [
  { name: 'no-op', work: () => undefined },
  { name: '5 ms async', work: () => sleep(5) },
];

/**
 * Channels made for the bench's discovery jobs: the seed leaves no discovery job queued or running, so a worker for
 * that type claims nothing but the bench's own jobs, and none of them waits behind a job of the seed's backlog.
 */
async function freshChannels(db: Knex, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1_000) {
    const rows = channelFactory.buildList(Math.min(1_000, count - start)).map((channel) => ({
      name: channel.name,
      youtube_channel_id: channel.youtubeChannelId,
      channel_url: channel.channelUrl,
    }));
    ids.push(...(await db('channels').insert(rows).returning<{ id: string }[]>('id')).map((row) => row.id));
  }
  return ids;
}

const discoveryJob = (entityId: string) => ({
  jobType: 'channel_discovery' as const,
  entityType: 'channel' as const,
  entityId,
});

/**
 * `concurrency` handlers through `createWorker`, over HTTP to an API process: claims ahead into a local queue,
 * batched completions.
 */
export async function drainWithWorker(
  db: Knex,
  apiUrl: string,
  count: number,
  concurrency: number,
  handler: BenchHandler,
): Promise<QueueResult> {
  const channelIds = await freshChannels(db, count);
  for (let start = 0; start < channelIds.length; start += 500) {
    await enqueueJobs(db, channelIds.slice(start, start + 500).map(discoveryJob));
  }
  const runs = new Map<string, number>();
  let allRan: () => void = () => undefined;
  const ran = new Promise<void>((resolve) => (allRan = resolve));
  const worker = createWorker({
    url: apiUrl,
    concurrency,
    waitMs: 1_000,
    graceMs: 0,
    tasks: {
      channel_discovery: async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        if (runs.size === channelIds.length) allRan();
        await handler.work();
        return null;
      },
    },
  });
  const started = performance.now();
  worker.start();
  await ran;
  // Stopping waits for the last completions, as graphile-worker's stop does.
  await worker.stop();
  return queueResult(runs, (performance.now() - started) / 1_000);
}

export interface Latency {
  p50: number;
  p99: number;
  samples: number;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

function latencyOf(samples: number[]): Latency {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), samples: sorted.length };
}

/** Enqueue to handler start, one job at a time into an idle `createWorker` waiting in its claim. */
export async function workerLatency(db: Knex, apiUrl: string, samples: number): Promise<Latency> {
  const channelIds = await freshChannels(db, samples);
  let started: (() => void) | undefined;
  const worker = createWorker({
    url: apiUrl,
    concurrency: 16,
    waitMs: 30_000,
    tasks: {
      channel_discovery: () => {
        started?.();
        return null;
      },
    },
  });
  worker.start();
  const measured: number[] = [];
  for (const channelId of channelIds) {
    // Idle again: the worker's claim is waiting before the next job comes.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const begun = new Promise<void>((resolve) => (started = resolve));
    const at = performance.now();
    await enqueueJobs(db, [{ jobType: 'channel_discovery', entityType: 'channel', entityId: channelId }]);
    await begun;
    measured.push(performance.now() - at);
  }
  await worker.stop();
  return latencyOf(measured);
}

const silent = new Logger(() => () => undefined);

/** The same for graphile-worker's `run()` with 16 workers, idle and listening. */
export async function graphileLatency(connectionString: string, samples: number): Promise<Latency> {
  const utils = await makeWorkerUtils({ connectionString, logger: silent });
  await utils.migrate();
  let started: (() => void) | undefined;
  const runner = await run({
    connectionString,
    concurrency: 16,
    noHandleSignals: true,
    logger: silent,
    taskList: { probe: async () => started?.() },
  });
  const measured: number[] = [];
  for (let sample = 0; sample < samples; sample += 1) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const begun = new Promise<void>((resolve) => (started = resolve));
    const at = performance.now();
    await utils.addJob('probe', {});
    await begun;
    measured.push(performance.now() - at);
  }
  await runner.stop();
  await utils.release();
  return latencyOf(measured);
}
