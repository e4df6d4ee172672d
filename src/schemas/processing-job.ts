import { z } from 'zod';
import { count, errorMessage, jsonObject, priority, timestamp, uuid } from './fields';

export const jobTypes = ['channel_discovery', 'transcript_extraction'] as const;
export const jobType = z.enum(jobTypes);
export type JobType = z.infer<typeof jobType>;

export const jobStatuses = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export const jobStatus = z.enum(jobStatuses);
export type JobStatus = z.infer<typeof jobStatus>;

/** The kinds of row a job can be about (`entity_type` + `entity_id`). */
export const jobEntityTypes = ['channel', 'video'] as const;
export const jobEntityType = z.enum(jobEntityTypes);
export type JobEntityType = z.infer<typeof jobEntityType>;

export const workerId = z.string().trim().min(1).max(200);

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
  runAfter: timestamp.optional(),
  startedAt: timestamp.nullable().optional(),
  completedAt: timestamp.nullable().optional(),
  errorMessage: errorMessage.nullable().optional(),
  metadata: jsonObject.optional(),
  result: z.json().nullable().optional(),
  lockedBy: workerId.nullable().optional(),
  lockedAt: timestamp.nullable().optional(),
  leaseToken: uuid.nullable().optional(),
  leaseExpiresAt: timestamp.nullable().optional(),
});

export const processingJobSchema = processingJobWrite
  .required()
  .extend({ id: uuid, createdAt: z.date(), updatedAt: z.date() });
export type ProcessingJob = z.infer<typeof processingJobSchema>;

export const processingJobPatch = processingJobWrite.partial();
