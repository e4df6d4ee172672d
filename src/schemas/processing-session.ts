import { z } from 'zod';
import { count, jsonObject, pastTimestamp, rowSchema, updateOf, uuid } from './fields';
import { createdRange, pageInput } from './pagination';

export const sessionTypes = ['bulk_processing', 'manual'] as const;
export const sessionType = z.enum(sessionTypes);

/** `pending` is ours: a session exists before it starts. The specification's four follow it. */
export const sessionStatuses = ['pending', 'running', 'paused', 'completed', 'failed'] as const;
export const sessionStatus = z.enum(sessionStatuses);
export type SessionStatus = z.infer<typeof sessionStatus>;

/** Every column a writer may set. Optional here means the database supplies a default. */
export const processingSessionWrite = z.strictObject({
  sessionName: z.string().trim().min(1).max(200),
  sessionType,
  status: sessionStatus.optional(),
  totalVideos: count.nullable().optional(),
  processedVideos: count.optional(),
  startedAt: pastTimestamp.nullable().optional(),
  completedAt: pastTimestamp.nullable().optional(),
  configuration: jsonObject.optional(),
  metrics: jsonObject.optional(),
});

export const processingSessionSchema = rowSchema(processingSessionWrite);
export type ProcessingSession = z.infer<typeof processingSessionSchema>;

export const createSessionInput = processingSessionWrite.pick({
  sessionName: true,
  sessionType: true,
  totalVideos: true,
  configuration: true,
  metrics: true,
});
/** Lifecycle fields (status, times, processed count) change only through the session's transitions. */
export const updateSessionInput = updateOf(
  createSessionInput.omit({ sessionType: true }).partial().extend({ id: uuid }),
);

export const listSessionsInput = z.strictObject({
  ...pageInput,
  ...createdRange,
  status: sessionStatus.optional(),
  sessionType: sessionType.optional(),
});
export type ListSessionsInput = z.infer<typeof listSessionsInput>;
