import { z } from 'zod';
import {
  byId,
  count,
  httpUrl,
  jsonObject,
  jsonObjectWith,
  longText,
  onlyAtStart,
  pastTimestamp,
  rowSchema,
  strictWithout,
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

/** The channel's discovery job stamps `lastCheckedAt` as it completes, which moves `nextDiscoveryAt` from it. */
const keptByDiscovery = "is kept by the channel's discovery job";

export const createChannelInput = channelWrite.extend({
  lastCheckedAt: onlyAtStart(channelWrite.shape.lastCheckedAt, null, keptByDiscovery),
});
export const updateChannelInput = updateOf(
  strictWithout(
    { ...channelPatch.omit({ lastCheckedAt: true }).shape, id: uuid },
    { lastCheckedAt: keptByDiscovery },
  ),
);

export const listChannelsInput = z.strictObject({
  ...pageInput,
  ...createdRange,
  status: channelStatus.optional(),
  /** Case-insensitive substring of the name. */
  search: z.string().trim().min(1).max(200).optional(),
});
export type ListChannelsInput = z.infer<typeof listChannelsInput>;
