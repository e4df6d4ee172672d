import { z } from 'zod';
import {
  count,
  errorMessage,
  jsonObject,
  pastTimestamp,
  priority,
  rowSchema,
  scheduledTimestamp,
  updateOf,
  uuid,
} from './fields';
import { createdRange, pageInput } from './pagination';
import type { VideoStatus } from './video';

export const jobTypes = ['channel_discovery', 'transcript_extraction'] as const;
export const jobType = z.enum(jobTypes);
export type JobType = z.infer<typeof jobType>;

export const jobStatuses = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export const jobStatus = z.enum(jobStatuses);
export type JobStatus = z.infer<typeof jobStatus>;

/** The kinds of row a job can be about (`entity_type` + `entity_id`). */
export const jobEntityTypes = ['channel', 'video'] as const;
const jobEntityType = z.enum(jobEntityTypes);
export type JobEntityType = z.infer<typeof jobEntityType>;

/** What each job type is about: the only (type, entity) pairs the API and the database accept. */
export const jobTypeEntity: Record<JobType, JobEntityType> = {
  channel_discovery: 'channel',
  transcript_extraction: 'video',
};

/**
 * The status a video has while its transcript job is in each status. A job queued for a later retry keeps its
 * video queued; a cancelled (or deleted) job gives it back to `discovered`, so it can be queued again.
 */
export const videoStatusForJob: Record<JobStatus, VideoStatus> = {
  queued: 'queued',
  running: 'processing',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'discovered',
};

/**
 * What a completed job of each type reports in `result`: how many videos a discovery found and how many were new,
 * or the transcript an extraction stored, its words and language. The data rules hold stored results to these.
 */
export const jobResults = {
  channel_discovery: z.strictObject({ videosFound: count, newVideos: count }),
  transcript_extraction: z.strictObject({ wordCount: count, language: z.string().min(2).max(35) }),
} satisfies Record<JobType, z.ZodType>;

export const workerId = z.string().trim().min(1).max(200);

/** Who took a job from its worker, as the admin names themself: a token carries only a role. */
const requeuedBy = z.string().trim().min(1).max(200);

/** Why an admin took a job from its worker. */
const requeueReason = z.string().trim().min(1).max(1_000);

/** A trace context as the W3C `traceparent` header writes it: version, trace id, parent span id, flags. */
const traceparent = z.string().regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/);

/** Every column a writer may set. Optional here means the database supplies a default. */
export const processingJobWrite = z.strictObject({
  jobType,
  status: jobStatus.optional(),
  entityType: jobEntityType,
  entityId: uuid,
  priority: priority.optional(),
  attempts: count.optional(),
  maxAttempts: z.number().int().min(1).max(100).optional(),
  sessionId: uuid.nullable().optional(),
  runAfter: scheduledTimestamp.optional(),
  startedAt: pastTimestamp.nullable().optional(),
  completedAt: pastTimestamp.nullable().optional(),
  errorMessage: errorMessage.nullable().optional(),
  metadata: jsonObject.optional(),
  result: z.json().nullable().optional(),
  lockedBy: workerId.nullable().optional(),
  lockedAt: pastTimestamp.nullable().optional(),
  leaseToken: uuid.nullable().optional(),
  leaseExpiresAt: scheduledTimestamp.nullable().optional(),
  /** The last time an admin took the job from its worker and queued it again (`jobs.requeue`); null if never. */
  requeuedAt: pastTimestamp.nullable().optional(),
  requeuedBy: requeuedBy.nullable().optional(),
  /** The worker that held the job then (its `lockedBy`). */
  requeuedFrom: workerId.nullable().optional(),
  requeueReason: requeueReason.nullable().optional(),
  /** The trace of the enqueue that queued the job, when tracing was on: its handler's span links to it. */
  traceparent: traceparent.nullable().optional(),
});

/** A stored job, every column: what the database and the model hold, its lease token included. */
export const processingJobRow = rowSchema(processingJobWrite, {
  /** Its session is paused: the job stays where it is and no claim takes it until the session resumes. */
  held: z.boolean(),
});
export type ProcessingJobRow = z.infer<typeof processingJobRow>;

/**
 * A job as every response shows it but a claim's. Whoever holds a lease token can heartbeat, complete, fail or
 * release the job as its worker, so the token is a capability: it leaves the server once, in the claim that
 * issued it, to its claimant. A read shows that a job is leased, to whom (`lockedBy`) and until when
 * (`leaseExpiresAt`); the output check leaves out anything this schema does not name. The trace context is left
 * out too: only the handler that runs the job needs it.
 */
export const processingJobSchema = processingJobRow.omit({ leaseToken: true, traceparent: true });
export type ProcessingJob = z.infer<typeof processingJobSchema>;

/** A stored job as `processingJobSchema` shows it, for services that build a response from a row. */
export const withoutLeaseToken = ({ leaseToken, traceparent, ...job }: ProcessingJobRow): ProcessingJob =>
  job;

/**
 * A job as `jobs.claim` responds to the worker that claimed it: with the lease token only it may show, and the
 * trace context its handler's span links to.
 */
export const claimedJobSchema = processingJobSchema.extend({
  leaseToken: uuid,
  traceparent: traceparent.nullable(),
});
export type ClaimedJob = z.infer<typeof claimedJobSchema>;

export const jobInclude = z
  .array(z.enum(['session', 'channel', 'video']))
  .max(3)
  .optional();

const maxEnqueueBatch = 500;

/** One job to enqueue; lifecycle fields (status, attempts, lease) belong to the queue, not the caller. */
export const enqueueJob = processingJobWrite
  .pick({
    jobType: true,
    entityType: true,
    entityId: true,
    priority: true,
    maxAttempts: true,
    sessionId: true,
    runAfter: true,
    metadata: true,
  })
  .refine((job) => jobTypeEntity[job.jobType] === job.entityType, {
    path: ['entityType'],
    error: (issue) => {
      const job = issue.input as { jobType: JobType };
      return `a ${job.jobType} job is about a ${jobTypeEntity[job.jobType]}`;
    },
  });
export type EnqueueJob = z.infer<typeof enqueueJob>;

export const enqueueManyInput = z.strictObject({ jobs: z.array(enqueueJob).min(1).max(maxEnqueueBatch) });

/** What a client may still change on a job; the queue owns everything else. */
export const updateJobInput = updateOf(
  processingJobWrite
    .pick({ priority: true, maxAttempts: true, sessionId: true, metadata: true })
    .partial()
    .extend({ id: uuid }),
);

export const listJobsInput = z.strictObject({
  ...pageInput,
  ...createdRange,
  status: jobStatus.optional(),
  jobType: jobType.optional(),
  entityType: jobEntityType.optional(),
  entityId: uuid.optional(),
  sessionId: uuid.optional(),
  include: jobInclude,
});
export type ListJobsInput = z.infer<typeof listJobsInput>;

export const leaseSeconds = z.number().int().min(1).max(3_600);

/** The longest a claim may wait for work. */
const maxClaimWaitMs = 30_000;

/** The most jobs one claim hands out, and so one `completeMany` takes. */
const maxClaim = 100;

export const claimJobsInput = z.strictObject({
  workerId,
  jobTypes: z.array(jobType).min(1).max(jobTypes.length).optional(),
  limit: z.number().int().min(1).max(maxClaim).default(1),
  /** How long the claim holds before another worker may take the job over. */
  leaseSeconds: leaseSeconds.default(300),
  /**
   * How long to wait, in milliseconds, when nothing is claimable: the claim answers as soon as a job becomes
   * claimable (enqueued, retried, released, due, or its lease expired), or empty at the end of the wait.
   */
  waitMs: z.number().int().min(0).max(maxClaimWaitMs).default(0),
});
export type ClaimJobsInput = z.infer<typeof claimJobsInput>;

/** Proof that the caller holds the job's current lease. */
const leaseInput = z.strictObject({ id: uuid, leaseToken: uuid });

export const heartbeatInput = leaseInput.extend({ leaseSeconds: leaseSeconds.default(300) });

export const completeJobInput = leaseInput.extend({ result: z.json().optional() });

/** A claimed job handed back untouched (a worker stopping): queued again at once, its attempt not spent. */
export const releaseJobInput = leaseInput;

/** A worker's claimed jobs, finished together: each one that still holds its lease is completed. */
export const completeJobsInput = z.strictObject({
  jobs: z
    .array(completeJobInput)
    .min(1)
    .max(maxClaim)
    .refine((jobs) => new Set(jobs.map((job) => job.id)).size === jobs.length, 'must name each job once'),
});

export const completeJobsResult = z.strictObject({
  completed: z.array(processingJobSchema),
  /** The jobs not completed, each with the reason `jobs.complete` would have given. */
  refused: z.array(z.strictObject({ id: uuid, reason: z.string() })),
});
export type CompleteJobsResult = z.infer<typeof completeJobsResult>;

/**
 * An admin taking a running job from its worker (one that is stuck, say): queued again at once, its lease voided
 * so the worker's later calls are rejected, and who, when and why recorded on the job.
 */
export const requeueJobInput = z.strictObject({ id: uuid, requeuedBy, reason: requeueReason });

export const failJobInput = leaseInput.extend({
  error: errorMessage.min(1),
  /** False fails the job for good, whatever attempts remain. */
  retryable: z.boolean().default(true),
});

/** How many jobs of one type may run at once across all workers; null for no limit, 0 stops the type. */
export const maxRunning = z.number().int().min(0).max(100_000).nullable();

export const setJobTypeLimitInput = z.strictObject({ jobType, maxRunning });

/** A job type as the queue sees it: what it is about, its limit, and how many of its jobs run now. */
export const jobTypeSettingsSchema = z.strictObject({
  jobType,
  entityType: jobEntityType,
  maxRunning,
  running: count,
  updatedAt: z.date(),
});
export type JobTypeSettings = z.infer<typeof jobTypeSettingsSchema>;
