import { z } from 'zod';
import {
  bulkCancelInput,
  bulkChangeResult,
  bulkPreviewInput,
  bulkPreviewResult,
  bulkRetryInput,
} from '../../schemas/job-bulk';
import { queueOverview } from '../../schemas/queue-overview';
import { changeBulk, previewBulk } from '../../queue/bulk';
import { readOverview } from '../../queue/overview';
import { procedure, restRoutes, router } from '../trpc';

const route = restRoutes('jobs');

/** The operator's calls on the queue as a whole, in the `jobs` namespace beside the calls on one job. */
export const jobAdminRouter = router({
  overview: procedure
    .meta(
      route(
        'GET',
        '/jobs/overview',
        'Jobs by type and status, throughput over the last hour, the oldest due job and the workers seen',
      ),
    )
    .input(z.strictObject({}).optional())
    .output(queueOverview)
    .query(({ ctx }) => readOverview(ctx.db)),
  bulkPreview: procedure
    .meta(
      route(
        'GET',
        '/jobs/bulk/preview',
        'Count the jobs a bulk retry or cancel with this filter would change now, and show the newest of them',
      ),
    )
    .input(bulkPreviewInput)
    .output(bulkPreviewResult)
    .query(({ input, ctx }) => previewBulk(ctx.db, input)),
  bulkRetry: procedure
    .meta(
      route(
        'POST',
        '/jobs/bulk/retry',
        'Queue again, with fresh attempts, up to `limit` failed jobs the filter names, newest first, in one transaction; go on from `nextCursor`',
      ),
    )
    .input(bulkRetryInput)
    .output(bulkChangeResult)
    .mutation(({ input, ctx }) => changeBulk(ctx.db, 'retry', input)),
  bulkCancel: procedure
    .meta(
      route(
        'POST',
        '/jobs/bulk/cancel',
        'Cancel up to `limit` queued or running jobs the filter names, newest first, in one transaction; go on from `nextCursor`',
      ),
    )
    .input(bulkCancelInput)
    .output(bulkChangeResult)
    .mutation(({ input, ctx }) => changeBulk(ctx.db, 'cancel', input)),
});
