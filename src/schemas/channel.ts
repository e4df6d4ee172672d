import { z } from 'zod';
import {
  byId,
  count,
  httpUrl,
  jsonObject,
  jsonObjectWith,
  longText,
  pastTimestamp,
  rowSchema,
  updateOf,
  uuid,
} from './fields';
import { createdRange, pageInput } from './pagination';

export const channelStatuses = ['active', 'paused', 'inactive'] as const;
const channelStatus = z.enum(channelStatuses);

export const youtubeChannelId = z
  .string()
  .regex(/^UC[A-Za-z0-9_-]{22}$/, 'must be "UC" followed by 22 letters, digits, "-" or "_"');

/**
 * How TubeSensei processes the channel. `discoverEveryHours` schedules discovery: the channel is due that long
 * after its last check (at once if never checked); without it the channel is discovered only when asked.
 */
export const processingConfig = jsonObjectWith({
  discoverEveryHours: z.number().min(0.01).max(8_760).optional(),
});

/** Every column a writer may set. Optional here means the database supplies a default. */
export const channelWrite = z.strictObject({
  name: z.string().trim().min(1).max(200),
  youtubeChannelId,
  channelUrl: httpUrl,
  description: longText.nullable().optional(),
  subscriberCount: count.nullable().optional(),
  videoCount: count.nullable().optional(),
  status: channelStatus.optional(),
  lastCheckedAt: pastTimestamp.nullable().optional(),
  metadata: jsonObject.optional(),
  processingConfig: processingConfig.optional(),
});

export const channelSchema = rowSchema(channelWrite, {
  /** When the channel is next due for discovery, from its schedule; null without one. */
  nextDiscoveryAt: z.date().nullable(),
});
export type Channel = z.infer<typeof channelSchema>;

const channelPatch = channelWrite.partial();

export const channelByYoutubeId = z.strictObject({ youtubeChannelId });
export type ChannelRef = z.infer<typeof byId> | z.infer<typeof channelByYoutubeId>;

export const createChannelInput = channelWrite;
export const updateChannelInput = updateOf(channelPatch.extend({ id: uuid }));

export const listChannelsInput = z.strictObject({
  ...pageInput,
  ...createdRange,
  status: channelStatus.optional(),
  /** Case-insensitive substring of the name. */
  search: z.string().trim().min(1).max(200).optional(),
});
export type ListChannelsInput = z.infer<typeof listChannelsInput>;
