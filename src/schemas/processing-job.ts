import { z } from 'zod';
import {
  count,
  errorMessage,
  jsonObject,
  pastTimestamp,
  priority,
  rowSchema,
  scheduledTimestamp,
  scheduleHorizonMs,
  updateOf,
  uuid,
} from './fields';
import { budgetName, budgetUnits } from './budget';
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

/**
 * What a job's limits and fairness go by: its channel (`channel:<id>`) unless the enqueuer names another, such as
 * the egress address a transcript worker uses (`egress:203.0.113.7`). Letters, digits and `:._@-`, so it fits a
 * URL path.
 */
export const rateKey = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9:._@-]{0,199}$/,
    'must be 1 to 200 letters, digits or :._@- starting with a letter or digit',
  );

/** Why a queued job waits for its `runAfter`: a retry's backoff, its worker's snooze, a rate limit, a spent budget. */
export const jobWaitReasons = ['retry', 'snoozed', 'rate_limited', 'quota_exhausted'] as const;
export const jobWaitReason = z.enum(jobWaitReasons);
export type JobWaitReason = z.infer<typeof jobWaitReason>;

/** Budget units a worker says a job really spent. */
export const spentUnits = z.number().int().min(0).max(1_000_000);

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
  rateKey: rateKey.optional(),
  /** Why the job waits for its `runAfter`; null when it waits for nothing but its turn. */
  waitReason: jobWaitReason.nullable().optional(),
  /** What its worker said: the snooze's reason, the rate limit's or the spent budget's error. */
  waitDetail: errorMessage.nullable().optional(),
  /** The trace of the enqueue that queued the job, when tracing was on: its handler's span links to it. */
  traceparent: traceparent.nullable().optional(),
});

/** A stored job, every column: what the database and the model hold, its lease token included. */
export const processingJobRow = rowSchema(processingJobWrite, {
  /** Its session is paused: the job stays where it is and no claim takes it until the session resumes. */
  held: z.boolean(),
  /**
   * Its place among its key's jobs: one past the key's last queued or running job, never behind the round the
   * type is serving. Claims go by priority, then round, so a key's backlog does not hold back other keys.
   */
  fairRound: z.number().int().min(0),
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
  traceparent: processingJobRow.shape.traceparent,
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
    rateKey: true,
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
   * How long to wait, in milliseconds, when nothing is claimable: the claim returns as soon as a job becomes
   * claimable (enqueued, retried, released, due, or its lease expired), or empty at the end of the wait.
   */
  waitMs: z.number().int().min(0).max(maxClaimWaitMs).default(0),
});
export type ClaimJobsInput = z.infer<typeof claimJobsInput>;

/** Proof that the caller holds the job's current lease. */
const leaseInput = z.strictObject({ id: uuid, leaseToken: uuid });

export const heartbeatInput = leaseInput.extend({ leaseSeconds: leaseSeconds.default(300) });

/** The most follow-up jobs one completion, or one `completeMany`, enqueues. */
const maxFollowUps = 1_000;

export const completeJobInput = leaseInput.extend({
  result: z.json().optional(),
  /** The budget units the job really spent, in place of its type's cost. */
  unitsSpent: spentUnits.optional(),
  /**
   * Jobs that follow from this one (the transcript jobs of the videos a discovery found), enqueued in the
   * completion's transaction: all of them if the completion is recorded, none if it is rejected.
   */
  followUps: z.array(enqueueJob).max(maxFollowUps).optional(),
});

/** A claimed job released untouched (a worker stopping): queued again at once, its attempt not spent. */
export const releaseJobInput = leaseInput;

/** The longest a job may be snoozed, in seconds: as far ahead as a job may be scheduled. */
const maxSnoozeSeconds = scheduleHorizonMs / 1_000;

/**
 * A worker holding the job says "not now, try again at `runAfter`" (or in `delaySeconds`): queued again without
 * spending the attempt, nothing recorded as a failure, the reason shown on the job.
 */
export const snoozeJobInput = leaseInput
  .extend({
    runAfter: scheduledTimestamp.optional(),
    delaySeconds: z.number().int().min(0).max(maxSnoozeSeconds).optional(),
    reason: z.string().trim().min(1).max(1_000).optional(),
    /** The budget units the job spent before it snoozed, in place of its type's cost. */
    unitsSpent: spentUnits.optional(),
  })
  .refine((input) => (input.runAfter === undefined) !== (input.delaySeconds === undefined), {
    path: ['runAfter'],
    error: 'give runAfter or delaySeconds, one of the two',
  });

/** A worker's claimed jobs, finished together: each one that still holds its lease is completed. */
export const completeJobsInput = z.strictObject({
  jobs: z
    .array(completeJobInput)
    .min(1)
    .max(maxClaim)
    .refine((jobs) => new Set(jobs.map((job) => job.id)).size === jobs.length, 'must name each job once')
    .refine(
      (jobs) => jobs.reduce((sum, job) => sum + (job.followUps?.length ?? 0), 0) <= maxFollowUps,
      `must hold at most ${maxFollowUps} follow-up jobs in all`,
    ),
});

export const completeJobsResult = z.strictObject({
  /**
   * The jobs completed, each by its id and the time its result was recorded: the caller sent the rest. A whole row
   * of each cost the API about 25 us a job to check and write (BENCHMARKS.md, "2026-12-07 (later)"); `jobs.get`
   * reads one whole.
   */
  completed: z.array(processingJobSchema.pick({ id: true, completedAt: true })),
  /** The jobs not completed, each with the reason `jobs.complete` would have given. */
  rejected: z.array(z.strictObject({ id: uuid, reason: z.string() })),
});
export type CompleteJobsResult = z.infer<typeof completeJobsResult>;

/**
 * An admin taking a running job from its worker (one that is stuck, say): queued again at once, its lease voided
 * so the worker's later calls are rejected, and who, when and why recorded on the job.
 */
export const requeueJobInput = z.strictObject({ id: uuid, requeuedBy, reason: requeueReason });

/**
 * What a failure was, and so what the queue does with the job:
 * - `error`: retried with backoff while attempts remain (failed for good with `retryable: false`);
 * - `permanent`: failed at once with its reason (transcripts disabled, a video private or removed);
 * - `rate_limited`: deferred without spending the attempt, by `retryAfterSeconds` (60 without), and its key (or,
 *   with `scope: 'type'`, its whole type) cools down as long; a run of them opens the key's breaker;
 * - `quota_exhausted`: deferred to its budget's reset without spending the attempt, the budget marked spent.
 */
export const failureKinds = ['error', 'permanent', 'rate_limited', 'quota_exhausted'] as const;
export const failureKind = z.enum(failureKinds);
export type FailureKind = z.infer<typeof failureKind>;

export const failJobInput = leaseInput
  .extend({
    error: errorMessage.min(1),
    /** False fails the job for good, whatever attempts remain, as `kind: 'permanent'` does. */
    retryable: z.boolean().default(true),
    /** What the failure was; `error` when left out. */
    kind: failureKind.optional(),
    /** How long the rate limit lasts, as YouTube's `Retry-After` says. */
    retryAfterSeconds: z.number().int().min(1).max(86_400).optional(),
    /** What the rate limit holds back: the job's key (the default), or every job of its type. */
    scope: z.enum(['key', 'type']).optional(),
    /** The budget units the job really spent, in place of its type's cost. */
    unitsSpent: spentUnits.optional(),
  })
  .refine((input) => input.kind === 'rate_limited' || input.retryAfterSeconds === undefined, {
    path: ['retryAfterSeconds'],
    error: 'only a rate-limited failure has a retry-after',
  })
  .refine((input) => input.kind === 'rate_limited' || input.scope === undefined, {
    path: ['scope'],
    error: 'only a rate-limited failure has a scope',
  })
  .refine((input) => input.retryable || (input.kind ?? 'error') === 'error' || input.kind === 'permanent', {
    path: ['retryable'],
    error: 'a rate-limited or quota-exhausted failure is deferred, never final',
  });

/** How many jobs of one type may run at once across all workers; null for no limit, 0 stops the type. */
export const maxRunning = z.number().int().min(0).max(100_000).nullable();

export const setJobTypeLimitInput = z.strictObject({ jobType, maxRunning });

/** A token bucket's size: at most this many starts at once, refilled at this many per `perSeconds`. */
export const maxStarts = z.number().int().min(1).max(1_000_000);
export const perSeconds = z.number().int().min(1).max(86_400);

/** A start rate for a type, across all workers; `maxStarts: null` lifts it. */
export const setJobTypeRateInput = z
  .strictObject({ jobType, maxStarts: maxStarts.nullable(), perSeconds: perSeconds.optional() })
  .refine((input) => (input.maxStarts === null) === (input.perSeconds === undefined), {
    path: ['perSeconds'],
    error: 'a rate needs perSeconds, and no rate takes it',
  });

/** What each start of a type spends of a budget; `budget: null` spends none. */
export const setJobTypeCostInput = z
  .strictObject({
    jobType,
    budget: budgetName.nullable(),
    units: budgetUnits.min(1).max(1_000_000).optional(),
  })
  .refine((input) => (input.budget === null) === (input.units === undefined), {
    path: ['units'],
    error: 'a budget needs units, and no budget takes them',
  });

/** A job type as the queue sees it: what it is about, its limits, and how many of its jobs run now. */
export const jobTypeSettingsSchema = z.strictObject({
  jobType,
  entityType: jobEntityType,
  maxRunning,
  running: count,
  /** The budget each start spends `budgetCost` units of; null for none. */
  budget: budgetName.nullable(),
  budgetCost: z.number().int().nullable(),
  maxStarts: maxStarts.nullable(),
  perSeconds: perSeconds.nullable(),
  /** Starts it may make now under its rate; null without one. */
  startTokens: z.number().min(0).nullable(),
  /** A rate-limited failure with `scope: 'type'` holds every job of the type back until then. */
  cooldownUntil: z.date().nullable(),
  updatedAt: z.date(),
});
export type JobTypeSettings = z.infer<typeof jobTypeSettingsSchema>;
