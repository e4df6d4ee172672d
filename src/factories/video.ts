import type { z } from 'zod';
import { VideoModel } from '../models/video';
import type { upsertVideosInput, videoWrite } from '../schemas/video';
import { channelFactory } from './channel';
import { type DeepPartial, Factory } from './factory';
import { uuidFrom } from './fake';
import { transcriptFactory } from './transcript';
import {
  durationSeconds,
  engagement,
  thumbnailUrlFor,
  videoDescription,
  videoTags,
  videoTitle,
  videoUrlFor,
  youtubeVideoIdFor,
} from './youtube-data';

export type VideoAttrs = z.output<typeof videoWrite>;

type VideoTrait = 'queued' | 'processing' | 'completed' | 'failed' | 'unpublished';

/** A video creates its channel unless `channelId` is given. Transient: `transcript` adds one after saving. */
export const videoFactory = new Factory<VideoAttrs, VideoModel, VideoTrait, { transcript: boolean }>({
  defaults: ({ sequence, faker }) => {
    const youtubeVideoId = youtubeVideoIdFor(sequence, faker);
    const publishedAt = faker.date.past({ years: 5 });
    return {
      channelId: uuidFrom(faker),
      youtubeVideoId,
      title: videoTitle(faker),
      description: videoDescription(faker),
      durationSeconds: durationSeconds(faker),
      ...engagement(faker),
      publishedAt,
      thumbnailUrl: thumbnailUrlFor(youtubeVideoId),
      videoUrl: videoUrlFor(youtubeVideoId),
      status: 'discovered',
      processingPriority: 0,
      metadata: { definition: faker.helpers.arrayElement(['hd', 'sd']), caption: faker.datatype.boolean() },
      tags: videoTags(faker),
      discoveredAt: faker.date.between({ from: publishedAt, to: faker.defaultRefDate() }),
      processedAt: null,
      errorMessage: null,
      retryCount: 0,
    };
  },
  traits: {
    queued: () => ({ status: 'queued' }),
    processing: () => ({ status: 'processing' }),
    completed: (attrs, { faker }) => ({
      status: 'completed',
      processedAt: faker.date.between({
        from: attrs.publishedAt ?? attrs.discoveredAt ?? new Date(0),
        to: faker.defaultRefDate(),
      }),
    }),
    failed: (_attrs, { faker }) => ({
      status: 'failed',
      errorMessage: faker.helpers.arrayElement([
        'Transcripts are disabled for this video',
        'Video unavailable: private video',
        'Request timed out after 30000 ms',
      ]),
      retryCount: faker.number.int({ min: 1, max: 3 }),
    }),
    unpublished: () => ({ publishedAt: null }),
  },
  transient: { transcript: false },
  associate: async (_attrs, given) =>
    given.channelId ? {} : { channelId: (await channelFactory.create()).id },
  persist: (rows) => VideoModel.query().insert(rows).returning('*'),
  afterCreate: async (video, { transient }) => {
    if (transient.transcript) video.transcripts = [await transcriptFactory.create({ videoId: video.id })];
    return video;
  },
});

export type DiscoveredVideo = z.input<typeof upsertVideosInput>['videos'][number];

/** Videos as discovery reports them to `videos.upsertMany`: no channel (the batch names it), no processing state. */
export function discoveredVideos(count: number, overrides: DeepPartial<VideoAttrs> = {}): DiscoveredVideo[] {
  return videoFactory
    .buildList(count, overrides)
    .map(
      ({ channelId: _c, status: _s, processedAt: _p, errorMessage: _e, retryCount: _r, ...video }) => video,
    );
}
