import { claimJobsInput } from '../src/schemas/processing-job';
import type { Knex } from 'knex';
import { claimJobs, completeJob, completeJobs, enqueueJobs } from '../src/queue/job-queue';

export interface QueueResult {
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  ranMoreThanOnce: number;
}

/** How many jobs ran, how fast, and how many ran more than once, from the times each job ran. */
export function queueResult(runs: Map<unknown, number>, seconds: number): QueueResult {
  return {
    jobs: runs.size,
    seconds,
    jobsPerSecond: runs.size / seconds,
    ranMoreThanOnce: [...runs.values()].filter((n) => n > 1).length,
  };
}

/** One queue's figure over several rounds: all their jobs over all their time. */
export function overRounds(results: QueueResult[]): QueueResult {
  const jobs = results.reduce((sum, result) => sum + result.jobs, 0);
  const seconds = results.reduce((sum, result) => sum + result.seconds, 0);
  return {
    jobs,
    seconds,
    jobsPerSecond: jobs / seconds,
    ranMoreThanOnce: results.reduce((sum, result) => sum + result.ranMoreThanOnce, 0),
  };
}

/**
 * Enqueues `count` no-op jobs about existing videos, then lets `workers` claim them `claimLimit` at a time and
 * complete them all: one call per job, or one per claim (`together`).
 */
export async function drainQueue(
  db: Knex,
  count: number,
  workers: number,
  claimLimit: number,
  completion: 'each' | 'together' = 'each',
): Promise<QueueResult> {
  // Videos with no queued or running transcript job, so every enqueue adds a job.
  const videoIds = await db('videos')
    .whereNotExists(
      db('processing_jobs')
        .whereRaw('processing_jobs.entity_id = videos.id')
        .where({ job_type: 'transcript_extraction' })
        .whereIn('status', ['queued', 'running']),
    )
    .limit(count)
    .pluck<string[]>('id');
  for (let start = 0; start < videoIds.length; start += 500) {
    await enqueueJobs(
      db,
      videoIds.slice(start, start + 500).map((entityId) => ({
        jobType: 'transcript_extraction' as const,
        entityType: 'video' as const,
        entityId,
        priority: 1_000_000,
      })),
    );
  }
  const runs = new Map<string, number>();
  // Our jobs outrank the seed's, so they are claimed first; a worker stops once a claim brings none of them
  // rather than go on to take the seed's own backlog.
  const worker = async (workerId: string) => {
    for (;;) {
      const claimed = await claimJobs(
        db,
        claimJobsInput.parse({
          workerId,
          jobTypes: ['transcript_extraction'],
          limit: claimLimit,
          leaseSeconds: 300,
        }),
      );
      const ours = claimed.filter((job) => job.priority === 1_000_000);
      if (ours.length === 0) return;
      for (const job of ours) runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
      if (completion === 'together') {
        await completeJobs(db, { jobs: ours.map((job) => ({ id: job.id, leaseToken: job.leaseToken! })) });
      } else {
        for (const job of ours) await completeJob(db, { id: job.id, leaseToken: job.leaseToken! });
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: workers }, (_, index) => worker(`bench-${index}`)));
  return queueResult(runs, (performance.now() - started) / 1_000);
}
