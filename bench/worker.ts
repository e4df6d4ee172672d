import type { Knex } from 'knex';
import { Logger, makeWorkerUtils, run } from 'graphile-worker';
import { channelFactory } from '../src/factories';
import { createWorker } from '../src/worker';
import { enqueueJobs } from '../src/services/job-queue';
import { type QueueResult, queueResult } from './queue';

/** The bench's own jobs outrank the seed's backlog, so they are claimed first. */
const ours = 1_000_000;

async function videosWithoutJobs(db: Knex, count: number): Promise<string[]> {
  // Discovered videos have no job yet (the seed gives jobs only to videos past discovery).
  return db('videos').where('status', 'discovered').limit(count).pluck<string[]>('id');
}

/** A handler's answer for a job that is not the bench's: nothing, until the worker hands it back at stop. */
const untilAborted = (signal: AbortSignal) =>
  new Promise<null>((resolve) => signal.addEventListener('abort', () => resolve(null)));

const transcriptJob = (entityId: string) => ({
  jobType: 'transcript_extraction' as const,
  entityType: 'video' as const,
  entityId,
  priority: ours,
});

/**
 * `concurrency` no-op handlers through `createWorker`, over HTTP to an API process: claims of free slots, batched
 * completions. A job of the seed's backlog, claimed once ours are done, is left alone and handed back at stop.
 */
export async function drainWithWorker(
  db: Knex,
  apiUrl: string,
  count: number,
  concurrency: number,
): Promise<QueueResult> {
  const videoIds = await videosWithoutJobs(db, count);
  for (let start = 0; start < videoIds.length; start += 500) {
    await enqueueJobs(db, videoIds.slice(start, start + 500).map(transcriptJob));
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
      transcript_extraction: (job, { signal }) => {
        if (job.priority !== ours) return untilAborted(signal);
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
        if (runs.size === videoIds.length) allRan();
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

/**
 * Channels made for the latency probes, each probed with a discovery job: the seed leaves no discovery job
 * queued, so an idle worker for that type claims nothing but the probes.
 */
async function freshChannels(db: Knex, count: number): Promise<string[]> {
  const rows = channelFactory.buildList(count).map((channel) => ({
    name: channel.name,
    youtube_channel_id: channel.youtubeChannelId,
    channel_url: channel.channelUrl,
  }));
  return (await db('channels').insert(rows).returning<{ id: string }[]>('id')).map((row) => row.id);
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
