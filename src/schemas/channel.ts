import { z } from 'zod';
import { count, httpUrl, jsonObject, longText, timestamp, uuid } from './fields';

export const channelStatuses = ['active', 'paused', 'inactive'] as const;
export const channelStatus = z.enum(channelStatuses);
export type ChannelStatus = z.infer<typeof channelStatus>;

export const youtubeChannelId = z
  .string()
  .regex(/^UC[A-Za-z0-9_-]{22}$/, 'must be "UC" followed by 22 letters, digits, "-" or "_"');

/** Every column a writer may set. Optional here means the database supplies a default. */
export const channelWrite = z.strictObject({
  name: z.string().trim().min(1).max(200),
  youtubeChannelId,
  channelUrl: httpUrl,
  description: longText.nullable().optional(),
  subscriberCount: count.nullable().optional(),
  videoCount: count.nullable().optional(),
  status: channelStatus.optional(),
  lastCheckedAt: timestamp.nullable().optional(),
  metadata: jsonObject.optional(),
  processingConfig: jsonObject.optional(),
});

export const channelSchema = channelWrite.required().extend({ id: uuid, createdAt: z.date(), updatedAt: z.date() });
export type Channel = z.infer<typeof channelSchema>;

export const channelPatch = channelWrite.partial();
