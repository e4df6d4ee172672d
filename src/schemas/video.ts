import { z } from 'zod';
import { bigCount, count, errorMessage, httpUrl, jsonObject, longText, priority, timestamp, uuid } from './fields';

export const videoStatuses = ['discovered', 'queued', 'processing', 'completed', 'failed'] as const;
export const videoStatus = z.enum(videoStatuses);
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
  publishedAt: timestamp.nullable().optional(),
  thumbnailUrl: httpUrl.nullable().optional(),
  videoUrl: httpUrl,
  status: videoStatus.optional(),
  processingPriority: priority.optional(),
  metadata: jsonObject.optional(),
  tags: z.array(tag).max(100).optional(),
  discoveredAt: timestamp.optional(),
  processedAt: timestamp.nullable().optional(),
  errorMessage: errorMessage.nullable().optional(),
  retryCount: count.optional(),
});

export const videoSchema = videoWrite.required().extend({ id: uuid, createdAt: z.date(), updatedAt: z.date() });
export type Video = z.infer<typeof videoSchema>;

export const videoPatch = videoWrite.partial();
