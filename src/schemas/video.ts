import { z } from 'zod';
import {
  bigCount,
  count,
  errorMessage,
  httpUrl,
  jsonObject,
  longText,
  onlyAtStart,
  pastTimestamp,
  priority,
  rowSchema,
  strictWithout,
  timestamp,
  updateOf,
  uuid,
} from './fields';
import { pageInput } from './pagination';

export const videoStatuses = ['discovered', 'queued', 'processing', 'completed', 'failed'] as const;
const videoStatus = z.enum(videoStatuses);
export type VideoStatus = z.infer<typeof videoStatus>;

export const youtubeVideoId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{11}$/, 'must be 11 letters, digits, "-" or "_"');

export const tag = z.string().trim().min(1).max(100);

/** Every column a writer may set. Optional here means the database supplies a default. */
export const videoWrite = z.strictObject({
  channelId: uuid,
  youtubeVideoId,
  title: z.string().trim().min(1).max(500),
  description: longText.nullable().optional(),
  durationSeconds: count.nullable().optional(),
  viewCount: bigCount.nullable().optional(),
  likeCount: bigCount.nullable().optional(),
  commentCount: bigCount.nullable().optional(),
  publishedAt: pastTimestamp.nullable().optional(),
  thumbnailUrl: httpUrl.nullable().optional(),
  videoUrl: httpUrl,
  status: videoStatus.optional(),
  processingPriority: priority.optional(),
  metadata: jsonObject.optional(),
  tags: z.array(tag).max(100).optional(),
  discoveredAt: pastTimestamp.optional(),
  processedAt: pastTimestamp.nullable().optional(),
  errorMessage: errorMessage.nullable().optional(),
  retryCount: count.optional(),
});

export const videoSchema = rowSchema(videoWrite);
export type Video = z.infer<typeof videoSchema>;

const videoPatch = videoWrite.partial();

/** Relations a video can be read with. */
const videoInclude = z
  .array(z.enum(['channel', 'transcripts', 'jobs']))
  .max(3)
  .optional();

/**
 * A video starts `discovered`; its later statuses follow its transcript job (`videoStatusForJob`, along the moves
 * of `videoStatusFrom`), so a client may create a video only in the status it starts in, and never sets one.
 */
export const initialVideoStatus = 'discovered' satisfies VideoStatus;
const followsItsJob = "follows the video's transcript job: enqueue, cancel or retry the job to move it";

/**
 * What the video's transcript job keeps, as it completes or fails: when it was processed, its last error and how
 * many attempts failed. A client creates a video with their starting values at most, and never updates them.
 */
const keptByItsJob = "is kept by the video's transcript job";

export const createVideoInput = videoWrite.extend({
  status: z
    .literal(initialVideoStatus, { error: `must be ${initialVideoStatus}; a later status ${followsItsJob}` })
    .optional(),
  processedAt: onlyAtStart(videoWrite.shape.processedAt, null, keptByItsJob),
  errorMessage: onlyAtStart(videoWrite.shape.errorMessage, null, keptByItsJob),
  retryCount: onlyAtStart(videoWrite.shape.retryCount, 0, keptByItsJob),
});

/** Fields an update may not name, and why. */
const keptFields = {
  status: followsItsJob,
  processedAt: keptByItsJob,
  errorMessage: keptByItsJob,
  retryCount: keptByItsJob,
} as const;

export const updateVideoInput = updateOf(
  strictWithout(
    {
      ...videoPatch.omit({ status: true, processedAt: true, errorMessage: true, retryCount: true }).shape,
      id: uuid,
    },
    keptFields,
  ),
);

export const videoById = z.strictObject({ id: uuid, include: videoInclude });
export const videoByYoutubeId = z.strictObject({ youtubeVideoId, include: videoInclude });
export type VideoRef = z.infer<typeof videoById> | z.infer<typeof videoByYoutubeId>;

export const listVideosInput = z.strictObject({
  ...pageInput,
  channelId: uuid.optional(),
  status: videoStatus.optional(),
  publishedAfter: timestamp.optional(),
  publishedBefore: timestamp.optional(),
  /** Videos carrying every one of these tags. */
  tags: z.array(tag).min(1).max(20).optional(),
  /** Case-insensitive substring of the title. */
  search: z.string().trim().min(1).max(200).optional(),
  include: videoInclude,
});
export type ListVideosInput = z.infer<typeof listVideosInput>;

const maxUpsertBatch = 500;

/** Discovery's batch: videos of one channel, inserted or updated by `youtubeVideoId`. */
export const upsertVideosInput = z.strictObject({
  channelId: uuid,
  videos: z
    .array(
      videoWrite.omit({
        channelId: true,
        status: true,
        processedAt: true,
        errorMessage: true,
        retryCount: true,
      }),
    )
    .min(1)
    .max(maxUpsertBatch)
    .superRefine((videos, context) => {
      const seen = new Set<string>();
      videos.forEach((video, index) => {
        if (seen.has(video.youtubeVideoId)) {
          context.addIssue({
            code: 'custom',
            path: [index, 'youtubeVideoId'],
            message: 'appears twice in the batch',
          });
        }
        seen.add(video.youtubeVideoId);
      });
    }),
});

/**
 * The legal moves of a video's status: each status and the ones it may be reached from. A video follows its
 * transcript job (see `videoStatusForJob`): back to `discovered` when the job is cancelled or deleted, back to
 * `queued` while a failed attempt waits for its retry.
 */
export const videoStatusFrom: Record<VideoStatus, readonly VideoStatus[]> = {
  discovered: ['queued', 'processing'],
  queued: ['discovered', 'failed', 'processing'],
  processing: ['queued'],
  completed: ['processing'],
  failed: ['processing'],
};
