import { z } from 'zod';
import { uuid } from '../../schemas/fields';
import {
  claimJobsInput,
  completeJobInput,
  enqueueJob,
  enqueueManyInput,
  failJobInput,
  heartbeatInput,
  jobInclude,
  listJobsInput,
  updateJobInput,
} from '../../schemas/processing-job';
import * as queue from '../../services/job-queue';
import * as jobs from '../../services/processing-jobs';
import { procedure, router } from '../trpc';

const byId = z.strictObject({ id: uuid });

export const jobsRouter = router({
  /** Adds one job, or returns the queued or running job that already exists for its type and entity. */
  enqueue: procedure.input(enqueueJob).mutation(async ({ input }) => (await queue.enqueueJobs([input]))[0]!),
  /** The batch form of `enqueue`: results in input order. */
  enqueueMany: procedure.input(enqueueManyInput).mutation(({ input }) => queue.enqueueJobs(input)),
  get: procedure
    .input(z.strictObject({ id: uuid, include: jobInclude }))
    .query(({ input }) => jobs.getJob(input.id, input.include)),
  list: procedure.input(listJobsInput).query(({ input }) => jobs.listJobs(input)),
  update: procedure.input(updateJobInput).mutation(({ input }) => jobs.updateJob(input)),
  delete: procedure.input(byId).mutation(({ input }) => jobs.deleteJob(input.id)),
  entity: procedure.input(byId).query(({ input }) => jobs.getJobEntity(input.id)),
  claim: procedure.input(claimJobsInput).mutation(({ input }) => queue.claimJobs(input)),
  heartbeat: procedure.input(heartbeatInput).mutation(({ input }) => queue.heartbeat(input)),
  complete: procedure.input(completeJobInput).mutation(({ input }) => queue.completeJob(input)),
  fail: procedure.input(failJobInput).mutation(({ input }) => queue.failJob(input)),
  cancel: procedure.input(byId).mutation(({ input }) => queue.cancelJob(input.id)),
  retry: procedure.input(byId).mutation(({ input }) => queue.retryJob(input.id)),
});
