import { z } from 'zod';
import { byId, uuid } from '../../schemas/fields';
import {
  claimJobsInput,
  completeJobInput,
  completeJobsInput,
  completeJobsResult,
  enqueueJob,
  enqueueManyInput,
  failJobInput,
  heartbeatInput,
  jobInclude,
  listJobsInput,
  processingJobSchema,
  jobTypeSettingsSchema,
  releaseJobInput,
  setJobTypeLimitInput,
  updateJobInput,
} from '../../schemas/processing-job';
import { jobEntity, jobWithRelations, pageOf } from '../../schemas/responses';
import * as queue from '../../services/job-queue';
import * as jobTypes from '../../services/job-types';
import * as jobs from '../../services/processing-jobs';
import { procedure, restRoutes, router } from '../trpc';

const route = restRoutes('jobs');

export const jobsRouter = router({
  enqueue: procedure
    .meta(
      route(
        'POST',
        '/jobs',
        'Queue a job, or return the queued or running one for the same type and entity',
        'work',
      ),
    )
    .input(enqueueJob)
    .output(processingJobSchema)
    .mutation(async ({ input }) => (await queue.enqueueJobs([input]))[0]!),
  enqueueMany: procedure
    .meta(route('POST', '/jobs/batch', 'Queue a batch of jobs; results in input order', 'work'))
    .input(enqueueManyInput)
    .output(z.array(processingJobSchema))
    .mutation(({ input }) => queue.enqueueJobs(input.jobs)),
  get: procedure
    .meta(route('GET', '/jobs/{id}', 'Read a job, with the relations named in `include`'))
    .input(z.strictObject({ id: uuid, include: jobInclude }))
    .output(jobWithRelations)
    .query(({ input }) => jobs.getJob(input.id, input.include)),
  list: procedure
    .meta(route('GET', '/jobs', 'List jobs, newest first'))
    .input(listJobsInput)
    .output(pageOf(jobWithRelations))
    .query(({ input }) => jobs.listJobs(input)),
  update: procedure
    .meta(route('PATCH', '/jobs/{id}', "Change a job's priority, attempts, session or metadata"))
    .input(updateJobInput)
    .output(processingJobSchema)
    .mutation(({ input }) => jobs.updateJob(input)),
  delete: procedure
    .meta(route('DELETE', '/jobs/{id}', 'Delete a job'))
    .input(byId)
    .output(processingJobSchema)
    .mutation(({ input }) => jobs.deleteJob(input.id)),
  entity: procedure
    .meta(route('GET', '/jobs/{id}/entity', 'Read the channel or video a job is about'))
    .input(byId)
    .output(jobEntity)
    .query(({ input }) => jobs.getJobEntity(input.id)),
  claim: procedure
    .meta(route('POST', '/jobs/claim', 'Lease the next runnable jobs to a worker', 'work'))
    .input(claimJobsInput)
    .output(z.array(processingJobSchema))
    .mutation(({ input, ctx, signal }) => queue.claimJobs(input, ctx.wakeups, signal)),
  heartbeat: procedure
    .meta(route('POST', '/jobs/{id}/heartbeat', "Extend a claimed job's lease", 'work'))
    .input(heartbeatInput)
    .output(processingJobSchema)
    .mutation(({ input }) => queue.heartbeat(input)),
  complete: procedure
    .meta(route('POST', '/jobs/{id}/complete', 'Finish a claimed job with its result', 'work'))
    .input(completeJobInput)
    .output(processingJobSchema)
    .mutation(({ input }) => queue.completeJob(input)),
  completeMany: procedure
    .meta(
      route(
        'POST',
        '/jobs/complete',
        'Finish several claimed jobs at once; any whose lease was lost are refused',
        'work',
      ),
    )
    .input(completeJobsInput)
    .output(completeJobsResult)
    .mutation(({ input }) => queue.completeJobs(input)),
  release: procedure
    .meta(
      route(
        'POST',
        '/jobs/{id}/release',
        'Hand a claimed job back untouched: queued again at once, its attempt not spent',
        'work',
      ),
    )
    .input(releaseJobInput)
    .output(processingJobSchema)
    .mutation(({ input }) => queue.releaseJob(input)),
  fail: procedure
    .meta(
      route(
        'POST',
        '/jobs/{id}/fail',
        'Fail a claimed job; it is retried later while attempts remain',
        'work',
      ),
    )
    .input(failJobInput)
    .output(processingJobSchema)
    .mutation(({ input }) => queue.failJob(input)),
  cancel: procedure
    .meta(route('POST', '/jobs/{id}/cancel', 'Cancel a queued or running job'))
    .input(byId)
    .output(processingJobSchema)
    .mutation(({ input }) => queue.cancelJob(input.id)),
  retry: procedure
    .meta(route('POST', '/jobs/{id}/retry', 'Queue a failed job again with fresh attempts'))
    .input(byId)
    .output(processingJobSchema)
    .mutation(({ input }) => queue.retryJob(input.id)),
  types: procedure
    .meta(route('GET', '/job-types', 'List job types with their running limits and running counts'))
    .input(z.strictObject({}).optional())
    .output(z.array(jobTypeSettingsSchema))
    .query(() => jobTypes.listJobTypes()),
  setTypeLimit: procedure
    .meta(
      route(
        'PUT',
        '/job-types/{jobType}/limit',
        'Set how many jobs of a type may run at once across all workers (null: no limit, 0: none)',
      ),
    )
    .input(setJobTypeLimitInput)
    .output(jobTypeSettingsSchema)
    .mutation(({ input }) => jobTypes.setJobTypeLimit(input)),
});
