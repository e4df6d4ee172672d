import { z } from 'zod';
import { bigCount, count, uuid } from './fields';
import { createdRange } from './pagination';
import { type JobStatus, jobStatus, jobType, processingJobSchema } from './processing-job';

/** What an operator does to many jobs at once. */
export const bulkActions = ['retry', 'cancel'] as const;
export const bulkAction = z.enum(bulkActions);
export type BulkAction = z.infer<typeof bulkAction>;

/** The statuses each bulk action moves jobs from, as `jobs.retry` and `jobs.cancel` do for one job. */
export const bulkActionMoves: Record<BulkAction, readonly JobStatus[]> = {
  retry: ['failed'],
  cancel: ['queued', 'running'],
};

/** The most jobs one bulk call changes, in one transaction; a script loops on `nextCursor` for more. */
export const maxBulkLimit = 1_000;

/** Past this many matching jobs a preview says "this many or more" rather than counting on. */
export const maxBulkCount = 100_000;

/** Which jobs a bulk action is about; each field narrows the set, and none means every job the action moves. */
const jobFilter = z.strictObject({
  jobType: jobType.optional(),
  /** One of the statuses the action moves (`bulkActionMoves`); all of them when left out. */
  status: jobStatus.optional(),
  sessionId: uuid.optional(),
  /** Case-insensitive substring of the job's last error. */
  errorContains: z.string().trim().min(1).max(200).optional(),
  ...createdRange,
});
export type JobFilter = z.output<typeof jobFilter>;

/** A status the action does not move would match nothing: it is rejected instead, naming what the action moves. */
const movesStatus = (action: BulkAction, status: JobStatus | undefined) =>
  status === undefined || bulkActionMoves[action].includes(status);
const movesOnly = (action: BulkAction) => `${action} moves ${bulkActionMoves[action].join(' or ')} jobs only`;

export const bulkPreviewInput = jobFilter
  .extend({
    action: bulkAction,
    /** How many of the matching jobs to show, newest first. */
    sampleSize: z.number().int().min(0).max(50).default(10),
  })
  .refine((input) => movesStatus(input.action, input.status), {
    path: ['status'],
    error: (issue) => movesOnly((issue.input as { action: BulkAction }).action),
    when: ({ issues }) => issues.length === 0,
  });
export type BulkPreviewInput = z.output<typeof bulkPreviewInput>;

/** A bulk action's input: its filter, the most jobs this call changes, and where the previous call stopped. */
const bulkChangeInput = (action: BulkAction) =>
  jobFilter
    .extend({
      limit: z.number().int().min(1).max(maxBulkLimit).default(maxBulkLimit),
      cursor: z
        .string()
        .max(200)
        .meta({
          pattern: '^[A-Za-z0-9_-]+$',
          description: 'The `nextCursor` of the previous call with the same filter, passed back as it came.',
        })
        .optional(),
    })
    .refine((input) => movesStatus(action, input.status), {
      path: ['status'],
      error: movesOnly(action),
      when: ({ issues }) => issues.length === 0,
    });

export const bulkRetryInput = bulkChangeInput('retry');
export const bulkCancelInput = bulkChangeInput('cancel');
export type BulkChangeInput = z.output<typeof bulkRetryInput>;

export const bulkPreviewResult = z.strictObject({
  /** Jobs the action would change now: exact up to `maxBulkCount`, which stands for that many or more. */
  count: bigCount,
  /** False when there are more than `count`. */
  exact: z.boolean(),
  /** The newest of them, `sampleSize` at most. */
  sample: z.array(processingJobSchema),
});
export type BulkPreviewResult = z.infer<typeof bulkPreviewResult>;

export const bulkChangeResult = z.strictObject({
  /** Jobs this call changed. */
  changed: count,
  /** Pass it back as `cursor`, with the same filter, to go on; null when no matching job is left past it. */
  nextCursor: z.string().nullable(),
});
export type BulkChangeResult = z.infer<typeof bulkChangeResult>;
