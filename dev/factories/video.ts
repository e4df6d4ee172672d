import type { z } from 'zod';
import { VideoModel } from '../../src/models/video';
import type { upsertVideosInput, videoWrite } from '../../src/schemas/video';
import { channelFactory } from './channel';
import { type DeepPartial, Factory } from './factory';
import { laterBy, uuidFrom } from './fake';
import { transcriptFactory } from './transcript';
import {
  durationSeconds,
  engagement,
  handleFor,
  thumbnailUrlFor,
  topic,
  videoDescription,
  videoTags,
  videoTitle,
  videoUrlFor,
  youtubeVideoIdFor,
} from './youtube-data';
import { factoryDatabase } from './database';

export type VideoAttrs = z.output<typeof videoWrite>;

type VideoTrait = 'queued' | 'processing' | 'completed' | 'failed' | 'unpublished';

/**
 * What a channel gives its videos: what they are about, its handle (for links), its share of Shorts and how far
 * its typical video's views sit above or below the median (`reach`, in natural-log units).
 */
export interface VideoTransient {
  transcript: boolean;
  topic: string | null;
  handle: string | null;
  shortsShare: number;
  reach: number;
}

const dayMs = 86_400_000;

/**
 * A video creates its channel unless `channelId` is given. Transient: `transcript` adds one after saving; the
 * channel's traits (`topic`, `handle`, `shortsShare`, `reach`) shape title, description, length and views.
 * Times follow each other whatever is overridden: published, then discovered (within days, or when given), then
 * processed (completed videos only).
 */
export const videoFactory = new Factory<VideoAttrs, VideoModel, VideoTrait, VideoTransient>({
  defaults: ({ sequence, faker, transient, now }) => {
    const youtubeVideoId = youtubeVideoIdFor(sequence, faker);
    return {
      channelId: uuidFrom(faker),
      youtubeVideoId,
      title: videoTitle(faker, transient.topic ?? topic(faker)),
      description: null,
      durationSeconds: durationSeconds(faker, transient.shortsShare),
      ...engagement(faker, transient.reach),
      publishedAt: faker.date.past({ years: 5, refDate: now }),
      thumbnailUrl: thumbnailUrlFor(youtubeVideoId),
      videoUrl: videoUrlFor(youtubeVideoId),
      status: 'discovered',
      processingPriority: 0,
      metadata: { definition: faker.helpers.arrayElement(['hd', 'sd']), caption: faker.datatype.boolean() },
      tags: videoTags(faker),
      // Both derived below from the final publish date and status.
      discoveredAt: undefined,
      processedAt: null,
      errorMessage: null,
      retryCount: 0,
    };
  },
  traits: {
    queued: () => ({ status: 'queued' }),
    processing: () => ({ status: 'processing' }),
    completed: () => ({ status: 'completed' }),
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
  dependent: {
    description: (attrs, { faker, transient, sequence }) =>
      videoDescription(
        faker,
        transient.topic ?? topic(faker),
        attrs.durationSeconds ?? 600,
        transient.handle ?? handleFor(faker.person.firstName(), sequence),
      ),
    discoveredAt: (attrs, { faker, now }) =>
      attrs.publishedAt
        ? laterBy(faker, attrs.publishedAt, 3 * dayMs, now)
        : faker.date.recent({ days: 30, refDate: now }),
    processedAt: (attrs, { faker, now }) =>
      attrs.status === 'completed' ? laterBy(faker, attrs.discoveredAt ?? now, 2 * dayMs, now) : null,
  },
  transient: { transcript: false, topic: null, handle: null, shortsShare: 0.2, reach: 0 },
  associate: async (_attrs, given, { now }) =>
    given.channelId ? {} : { channelId: (await channelFactory.at(now).create()).id },
  persist: (rows) => VideoModel.query(factoryDatabase()).insert(rows).returning('*'),
  afterCreate: async (video, { transient, now }) => {
    if (transient.transcript) {
      const transcript = transcriptFactory
        .at(now)
        .transient({ durationSeconds: video.durationSeconds ?? 600 });
      video.transcripts = [await transcript.create({ videoId: video.id })];
    }
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
