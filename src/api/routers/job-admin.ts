import {
  bulkCancelInput,
  bulkChangeResult,
  bulkPreviewInput,
  bulkPreviewResult,
  bulkRetryInput,
} from '../../schemas/job-bulk';
import { changeBulk, previewBulk } from '../../queue/bulk';
import { procedure, restRoutes, router } from '../trpc';

const route = restRoutes('jobs');

/** The operator's calls on many jobs at once, in the `jobs` namespace beside the calls on one. */
export const jobAdminRouter = router({
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
