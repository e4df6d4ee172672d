import { z } from 'zod';
import { bigCount, count, uuid } from './fields';
import { jobStatus, jobType, workerId } from './processing-job';

/** The minutes a throughput chart covers, the current one last. */
export const throughputMinutes = 60;

/** What an operator sees first: where the jobs are, how fast they finish, what waits, and who works. */
export const queueOverview = z.strictObject({
  /** When the figures were read, by the database's clock. */
  at: z.date(),
  /** Jobs of each type in each status; every pair, 0 included. */
  counts: z.array(z.strictObject({ jobType, status: jobStatus, jobs: bigCount })),
  /** The queued job due longest ago that no paused session holds; null when none is due. */
  oldestDue: z.strictObject({ id: uuid, jobType, runAfter: z.date(), createdAt: z.date() }).nullable(),
  /** Jobs that finished in each of the last `throughputMinutes` minutes, by how they ended. */
  throughput: z.array(
    z.strictObject({ minute: z.date(), completed: count, failed: count, cancelled: count }),
  ),
  /**
   * Workers seen by their jobs: those holding a running job, or that completed or failed one in the last hour;
   * the most recently seen first.
   */
  workers: z.array(
    z.strictObject({ workerId, running: count, finishedLastHour: count, lastSeenAt: z.date() }),
  ),
});
export type QueueOverview = z.infer<typeof queueOverview>;
