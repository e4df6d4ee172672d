import { z } from 'zod';
import { channelSchema } from './channel';
import { jobStatuses, processingJobSchema } from './processing-job';
import { processingSessionSchema, sessionStatus } from './processing-session';
import { transcriptSchema } from './transcript';
import { videoSchema, videoStatuses } from './video';

/**
 * What the procedures respond with. tRPC checks every response against these, the OpenAPI document describes them, and
 * the services' return types are inferred from them.
 */

/** A keyset page of `item`. */
export const pageOf = <T extends z.ZodType>(item: T) =>
  z.strictObject({
    items: z.array(item),
    /** Pass it back as `cursor` for the next page; null on the last one. */
    nextCursor: z.string().nullable(),
  });

export const videoWithRelations = videoSchema.extend({
  channel: channelSchema.optional(),
  transcripts: z.array(transcriptSchema).optional(),
  jobs: z.array(processingJobSchema).optional(),
});
export type VideoWithRelations = z.infer<typeof videoWithRelations>;

export const transcriptWithRelations = transcriptSchema.extend({ video: videoSchema.optional() });
export type TranscriptWithRelations = z.infer<typeof transcriptWithRelations>;

/** A job's relations are null when the job has none (no session) or is about the other entity type. */
export const jobWithRelations = processingJobSchema.extend({
  session: processingSessionSchema.nullable().optional(),
  channel: channelSchema.nullable().optional(),
  video: videoSchema.nullable().optional(),
});
export type JobWithRelations = z.infer<typeof jobWithRelations>;

/** The row a job is about. */
export const jobEntity = z.discriminatedUnion('entityType', [
  z.strictObject({ entityType: z.literal('channel'), channel: channelSchema }),
  z.strictObject({ entityType: z.literal('video'), video: videoSchema }),
]);
export type JobEntity = z.infer<typeof jobEntity>;

const counter = z.number().int().min(0);

/** How many of a channel's videos are in each status. */
/** A counter field per status of an enum. */
const countsPer = <S extends string>(statuses: readonly S[]) =>
  Object.fromEntries(statuses.map((status) => [status, counter])) as Record<S, typeof counter>;

export const videoCounts = z.strictObject({ ...countsPer(videoStatuses), total: counter });
export type VideoCounts = z.infer<typeof videoCounts>;

export const upsertResult = z.strictObject({
  inserted: counter,
  updated: counter,
  /** Ids already taken by another channel's videos: left untouched. */
  skipped: z.array(z.string()),
});
export type UpsertResult = z.infer<typeof upsertResult>;

export const sessionProgress = z.strictObject({
  sessionId: z.uuid(),
  status: sessionStatus,
  total: counter,
  ...countsPer(jobStatuses),
  /** Finished jobs (completed, failed or cancelled) as a share of all, 0 to 100. */
  percentDone: z.number().min(0).max(100),
  /** Completed jobs per second since the session started; null before it starts. */
  ratePerSecond: z.number().min(0).nullable(),
  /** When the remaining jobs will be done at the current rate; null when it cannot be told. */
  estimatedFinishAt: z.date().nullable(),
  /** Equals `completed`; kept on the session row as its jobs complete. */
  processedVideos: counter,
});
export type SessionProgress = z.infer<typeof sessionProgress>;
