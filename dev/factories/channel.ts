import type { z } from 'zod';
import { ChannelModel } from '../../src/models/channel';
import type { channelWrite } from '../../src/schemas/channel';
import { Factory } from './factory';
import { videoFactory } from './video';
import {
  channelDescription,
  channelName,
  channelUrlFor,
  handleFor,
  topic,
  youtubeChannelIdFor,
} from './youtube-data';
import { factoryDatabase } from './database';

export type ChannelAttrs = z.output<typeof channelWrite>;

/**
 * Transient: `videos` creates that many videos of the channel after it is saved; `topic` is what it is about
 * (random when null).
 */
export const channelFactory = new Factory<
  ChannelAttrs,
  ChannelModel,
  'paused' | 'inactive' | 'checked',
  { videos: number; topic: string | null }
>({
  defaults: ({ sequence, faker, transient }) => {
    const youtubeChannelId = youtubeChannelIdFor(sequence, faker);
    const about = transient.topic ?? topic(faker);
    const name = channelName(faker, about);
    const handle = handleFor(name, sequence);
    return {
      name,
      youtubeChannelId,
      channelUrl: channelUrlFor(youtubeChannelId),
      description: channelDescription(faker, about, handle),
      subscriberCount: Math.round(10 ** faker.number.float({ min: 2, max: 7.5 })),
      videoCount: faker.number.int({ min: 0, max: 2_000 }),
      status: 'active',
      lastCheckedAt: null,
      metadata: { country: faker.location.countryCode(), customUrl: `@${handle}` },
      processingConfig: { discoverEveryHours: 24, transcriptLanguages: ['en'] },
    };
  },
  traits: {
    paused: () => ({ status: 'paused' }),
    inactive: () => ({ status: 'inactive', processingConfig: { transcriptLanguages: ['en'] } }),
    checked: (_attrs, { faker, now }) => ({ lastCheckedAt: faker.date.recent({ days: 2, refDate: now }) }),
  },
  transient: { videos: 0, topic: null },
  persist: (rows) => ChannelModel.query(factoryDatabase()).insert(rows).returning('*'),
  afterCreate: async (channel, { transient, now }) => {
    if (transient.videos > 0)
      channel.videos = await videoFactory.at(now).createList(transient.videos, { channelId: channel.id });
    return channel;
  },
});
