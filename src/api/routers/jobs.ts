import { z } from 'zod';
import { byId, uuid } from '../../schemas/fields';
import {
  claimedJobSchema,
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
  requeueJobInput,
  setJobTypeCostInput,
  setJobTypeLimitInput,
  setJobTypeRateInput,
  snoozeJobInput,
  updateJobInput,
} from '../../schemas/processing-job';
import { setJobTypeCost } from '../../queue/budgets';
import { setJobTypeRate } from '../../queue/rate-limits';
import { jobEntity, jobWithRelations, pageOf } from '../../schemas/responses';
import * as queue from '../../queue/job-queue';
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
    .mutation(async ({ input, ctx }) => (await queue.enqueueJobs(ctx.db, [input]))[0]!),
  enqueueMany: procedure
    .meta(route('POST', '/jobs/batch', 'Queue a batch of jobs; results in input order', 'work'))
    .input(enqueueManyInput)
    .output(z.array(processingJobSchema))
    .mutation(({ input, ctx }) => queue.enqueueJobs(ctx.db, input.jobs)),
  get: procedure
    .meta(route('GET', '/jobs/{id}', 'Read a job, with the relations named in `include`'))
    .input(z.strictObject({ id: uuid, include: jobInclude }))
    .output(jobWithRelations)
    .query(({ input, ctx }) => jobs.getJob(ctx.db, input.id, input.include)),
  list: procedure
    .meta(route('GET', '/jobs', 'List jobs, newest first'))
    .input(listJobsInput)
    .output(pageOf(jobWithRelations))
    .query(({ input, ctx }) => jobs.listJobs(ctx.db, input)),
  update: procedure
    .meta(route('PATCH', '/jobs/{id}', "Change a job's priority, attempts, session or metadata"))
    .input(updateJobInput)
    .output(processingJobSchema)
    .mutation(({ input, ctx }) => jobs.updateJob(ctx.db, input)),
  delete: procedure
    .meta(route('DELETE', '/jobs/{id}', 'Delete a job'))
    .input(byId)
    .output(processingJobSchema)
    .mutation(({ input, ctx }) => jobs.deleteJob(ctx.db, input.id)),
  entity: procedure
    .meta(route('GET', '/jobs/{id}/entity', 'Read the channel or video a job is about'))
    .input(byId)
    .output(jobEntity)
    .query(({ input, ctx }) => jobs.getJobEntity(ctx.db, input.id)),
  claim: procedure
    .meta(
      route(
        'POST',
        '/jobs/claim',
        'Lease the next runnable jobs to a worker; only this response carries their lease tokens',
        'work',
      ),
    )
    .input(claimJobsInput)
    .output(z.array(claimedJobSchema))
    .mutation(({ input, ctx, signal }) => queue.claimJobs(ctx.db, input, ctx.wakeups, signal)),
  heartbeat: procedure
    .meta(route('POST', '/jobs/{id}/heartbeat', "Extend a claimed job's lease", 'work'))
    .input(heartbeatInput)
    .output(processingJobSchema)
    .mutation(({ input, ctx }) => queue.heartbeat(ctx.db, input)),
  complete: procedure
    .meta(route('POST', '/jobs/{id}/complete', 'Finish a claimed job with its result', 'work'))
    .input(completeJobInput)
    .output(processingJobSchema)
    .mutation(({ input, ctx }) => queue.completeJob(ctx.db, input)),
  completeMany: procedure
    .meta(
      route(
        'POST',
        '/jobs/complete',
        'Finish several claimed jobs at once; any whose lease was lost are rejected',
        'work',
      ),
    )
    .input(completeJobsInput)
    .output(completeJobsResult)
    .mutation(({ input, ctx }) => queue.completeJobs(ctx.db, input)),
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
    .mutation(({ input, ctx }) => queue.releaseJob(ctx.db, input)),
  snooze: procedure
    .meta(
      route(
        'POST',
        '/jobs/{id}/snooze',
        'Put a claimed job off until a later time: queued again, its attempt not spent, the reason shown on it',
        'work',
      ),
    )
    .input(snoozeJobInput)
    .output(processingJobSchema)
    .mutation(({ input, ctx }) => queue.snoozeJob(ctx.db, input)),
  fail: procedure
    .meta(
      route(
        'POST',
        '/jobs/{id}/fail',
        'Fail a claimed job by kind: an error is retried while attempts remain, a permanent one is not, a rate limit or a spent budget defers it',
        'work',
      ),
    )
    .input(failJobInput)
    .output(processingJobSchema)
    .mutation(({ input, ctx }) => queue.failJob(ctx.db, input)),
  cancel: procedure
    .meta(route('POST', '/jobs/{id}/cancel', 'Cancel a queued or running job'))
    .input(byId)
    .output(processingJobSchema)
    .mutation(({ input, ctx }) => queue.cancelJob(ctx.db, input.id)),
  requeue: procedure
    .meta(
      route(
        'POST',
        '/jobs/{id}/requeue',
        'Take a running job from its worker and queue it again: its lease voided, who, when and why recorded',
      ),
    )
    .input(requeueJobInput)
    .output(processingJobSchema)
    .mutation(({ input, ctx }) => queue.requeueJob(ctx.db, input)),
  retry: procedure
    .meta(route('POST', '/jobs/{id}/retry', 'Queue a failed job again with fresh attempts'))
    .input(byId)
    .output(processingJobSchema)
    .mutation(({ input, ctx }) => queue.retryJob(ctx.db, input.id)),
  types: procedure
    .meta(route('GET', '/job-types', 'List job types with their limits, rates, costs and running counts'))
    .input(z.strictObject({}).optional())
    .output(z.array(jobTypeSettingsSchema))
    .query(({ ctx }) => jobTypes.listJobTypes(ctx.db)),
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
    .mutation(({ input, ctx }) => jobTypes.setJobTypeLimit(ctx.db, input)),
  setTypeRate: procedure
    .meta(
      route(
        'PUT',
        '/job-types/{jobType}/rate',
        'Set how many jobs of a type may start per interval across all workers (maxStarts null: no limit)',
      ),
    )
    .input(setJobTypeRateInput)
    .output(jobTypeSettingsSchema)
    .mutation(({ input, ctx }) => setJobTypeRate(ctx.db, input)),
  setTypeCost: procedure
    .meta(
      route(
        'PUT',
        '/job-types/{jobType}/cost',
        'Set the budget units each start of a type spends (budget null: none)',
      ),
    )
    .input(setJobTypeCostInput)
    .output(jobTypeSettingsSchema)
    .mutation(({ input, ctx }) => setJobTypeCost(ctx.db, input)),
});
