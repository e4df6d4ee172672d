import type { z } from 'zod';
import { ChannelModel } from '../models/channel';
import type { channelWrite } from '../schemas/channel';
import { Factory } from './factory';
import { videoFactory } from './video';
import { channelName, channelUrlFor, youtubeChannelIdFor } from './youtube-data';

export type ChannelAttrs = z.output<typeof channelWrite>;

/** Transient: `videos` creates that many videos of the channel after it is saved. */
export const channelFactory = new Factory<
  ChannelAttrs,
  ChannelModel,
  'paused' | 'inactive' | 'checked',
  { videos: number }
>({
  defaults: ({ sequence, faker }) => {
    const youtubeChannelId = youtubeChannelIdFor(sequence, faker);
    return {
      name: channelName(faker),
      youtubeChannelId,
      channelUrl: channelUrlFor(youtubeChannelId),
      description: faker.lorem.paragraph(),
      subscriberCount: Math.round(10 ** faker.number.float({ min: 2, max: 7.5 })),
      videoCount: faker.number.int({ min: 0, max: 2_000 }),
      status: 'active',
      lastCheckedAt: null,
      metadata: { country: faker.location.countryCode(), customUrl: `@${faker.internet.username()}` },
      processingConfig: { discoverEveryHours: 24, transcriptLanguages: ['en'] },
    };
  },
  traits: {
    paused: () => ({ status: 'paused' }),
    inactive: () => ({ status: 'inactive', processingConfig: { transcriptLanguages: ['en'] } }),
    checked: (_attrs, { faker }) => ({ lastCheckedAt: faker.date.recent({ days: 2 }) }),
  },
  transient: { videos: 0 },
  persist: (rows) => ChannelModel.query().insert(rows).returning('*'),
  afterCreate: async (channel, { transient }) => {
    if (transient.videos > 0)
      channel.videos = await videoFactory.createList(transient.videos, { channelId: channel.id });
    return channel;
  },
});
