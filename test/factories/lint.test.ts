import { testDatabase } from '../support/database';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  seedFactories,
  transcriptFactory,
  videoFactory,
} from '../../dev/factories';
import type { Factory } from '../../dev/factories/factory';
import { fake, uuidFrom } from '../../dev/factories/fake';
import { channelSchema } from '../../src/schemas/channel';
import { processingJobRow } from '../../src/schemas/processing-job';
import { processingSessionSchema } from '../../src/schemas/processing-session';
import { countWords, transcriptSchema } from '../../src/schemas/transcript';
import { videoSchema } from '../../src/schemas/video';

type AnyFactory = Factory<object, { $toJson(): object }, string, object>;

const factories: [string, AnyFactory, z.ZodType][] = [
  ['channel', channelFactory as unknown as AnyFactory, channelSchema],
  ['video', videoFactory as unknown as AnyFactory, videoSchema],
  ['transcript', transcriptFactory as unknown as AnyFactory, transcriptSchema],
  ['processing session', processingSessionFactory as unknown as AnyFactory, processingSessionSchema],
  ['processing job', processingJobFactory as unknown as AnyFactory, processingJobRow],
];

describe('factory lint: every factory and trait makes rows the database and the schemas accept', () => {
  for (const [name, factory, schema] of factories) {
    for (const trait of [undefined, ...factory.traitNames]) {
      it(`${name}${trait ? ` (${trait})` : ''}`, async () => {
        const row = await (trait ? factory.trait(trait) : factory).create();
        const parsed = schema.safeParse(row.$toJson());
        expect(parsed.error?.issues ?? []).toEqual([]);
      });
    }
  }
});

describe('factories', () => {
  it('give the same data, dates included, for the same seed number and moment', () => {
    // Dates are drawn relative to the factories' moment: handed the same one, two runs draw the same dates.
    const moment = new Date();
    const videos = videoFactory.at(moment);
    const jobs = processingJobFactory.trait('completed').at(moment);
    seedFactories(42);
    const first = [...videos.buildList(3), ...jobs.buildList(2)];
    seedFactories(42);
    const second = [...videos.buildList(3), ...jobs.buildList(2)];
    expect(second).toEqual(first);
    seedFactories(43);
    expect(videos.build().publishedAt).not.toEqual((first[0] as { publishedAt: Date }).publishedAt);
  });

  it('draw ids that are version-4 UUIDs, distinct, and the same again for the same seed number', () => {
    seedFactories(7);
    const ids = Array.from({ length: 2_000 }, () => uuidFrom(fake));
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(z.uuidv4().safeParse(id).success).toBe(true);
    seedFactories(7);
    expect(uuidFrom(fake)).toBe(ids[0]);
  });

  it('make YouTube ids and URLs in the real formats, unique per sequence', () => {
    const channels = channelFactory.buildList(50);
    expect(new Set(channels.map((c) => c.youtubeChannelId)).size).toBe(50);
    for (const channel of channels) {
      expect(channel.youtubeChannelId).toMatch(/^UC[A-Za-z0-9_-]{22}$/);
      expect(channel.channelUrl).toBe(`https://www.youtube.com/channel/${channel.youtubeChannelId}`);
    }
    const video = videoFactory.build();
    expect(video.youtubeVideoId).toMatch(/^[A-Za-z0-9_-]{11}$/);
    expect(video.videoUrl).toBe(`https://www.youtube.com/watch?v=${video.youtubeVideoId}`);
  });

  it('keep likes and comments below views, and a completed video processed after it was published', () => {
    for (const video of videoFactory.trait('completed').buildList(200)) {
      expect(video.likeCount!).toBeLessThanOrEqual(video.viewCount!);
      expect(video.commentCount!).toBeLessThanOrEqual(video.likeCount!);
      expect(video.processedAt!.getTime()).toBeGreaterThanOrEqual(video.publishedAt!.getTime());
    }
  });

  it('give a failed video an error and an exhausted job all its attempts', () => {
    expect(videoFactory.trait('failed').build().errorMessage).toBeTruthy();
    const job = processingJobFactory.trait('exhausted').build({ maxAttempts: 5 });
    expect(job).toMatchObject({ status: 'failed', attempts: 5 });
  });

  it('deep-merge JSONB overrides into the defaults', () => {
    const channel = channelFactory.build({ processingConfig: { transcriptLanguages: ['de'] } });
    expect(channel.processingConfig).toEqual({ discoverEveryHours: 24, transcriptLanguages: ['de'] });
  });

  it('count a transcript’s words from its content, also when the content is overridden', async () => {
    const transcript = await transcriptFactory.create({ content: 'three little words' });
    expect(transcript.wordCount).toBe(3);
    const generated = await transcriptFactory.create();
    expect(generated.wordCount).toBe(countWords(generated.content));
  });

  it('create a job’s entity as a real row, and a session whose counters agree with its jobs', async () => {
    const job = await processingJobFactory.trait('discovery').create();
    expect((await job.$relatedQuery('channel', testDatabase().db))?.id).toBe(job.entityId);
    const session = await processingSessionFactory.trait('completed').transient({ jobs: 3 }).create();
    expect(session).toMatchObject({ totalVideos: 3, processedVideos: 3 });
  });

  it('give a finished session jobs that ended as it did: completed ones, or failed ones out of attempts', async () => {
    for (const [trait, status] of [
      ['completed', 'completed'],
      ['failed', 'failed'],
    ] as const) {
      const session = await processingSessionFactory.trait(trait).transient({ jobs: 2 }).create();
      const jobs = await testDatabase().db('processing_jobs').where({ session_id: session.id });
      expect(
        jobs.map((job) => job.status),
        trait,
      ).toEqual([status, status]);
      if (trait === 'failed') expect(jobs.every((job) => job.attempts === job.max_attempts)).toBe(true);
    }
  });

  it('start sequences again after a reset', () => {
    seedFactories(1);
    const first = channelFactory.build().youtubeChannelId;
    seedFactories(1);
    expect(channelFactory.build().youtubeChannelId).toBe(first);
  });
});
