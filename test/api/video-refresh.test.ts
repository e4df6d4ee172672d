import { describe, expect, it } from 'vitest';
import { channelFactory, discoveredVideos, videoFactory } from '../../dev/factories';
import type { UpsertResult } from '../../src/schemas/responses';
import type { Video } from '../../src/schemas/video';
import { useApi } from '../support/api';

const api = useApi();

const read = async (youtubeVideoId: string) =>
  (await api.query<Video>('videos.getByYoutubeId', { youtubeVideoId })).data;

describe('refreshing known videos', () => {
  it('keeps every stored field a lighter batch does not carry', async () => {
    const channel = await channelFactory.create();
    const [full] = discoveredVideos(1, { tags: ['sourdough'], processingPriority: 7 });
    await api.mutate('videos.upsertMany', { channelId: channel.id, videos: [full] });
    const stored = await read(full!.youtubeVideoId);

    const light = { youtubeVideoId: full!.youtubeVideoId, title: 'Renamed', videoUrl: full!.videoUrl };
    const result = await api.mutate<UpsertResult>('videos.upsertMany', {
      channelId: channel.id,
      videos: [light],
    });
    expect(result.data).toEqual({ inserted: 0, updated: 1, skipped: [] });

    const after = await read(full!.youtubeVideoId);
    const { title: _t, updatedAt: _u, ...kept } = stored;
    expect(after).toMatchObject({ ...kept, title: 'Renamed' });
    expect(after.description).not.toBeNull();
    expect(after.tags).toEqual(['sourdough']);
  });

  it('refreshes each item only in the fields it carries, when items of one batch differ', async () => {
    const channel = await channelFactory.create();
    const [a, b] = discoveredVideos(2);
    await api.mutate('videos.upsertMany', { channelId: channel.id, videos: [a, b] });
    await api.mutate('videos.upsertMany', {
      channelId: channel.id,
      videos: [
        { youtubeVideoId: a!.youtubeVideoId, title: a!.title, videoUrl: a!.videoUrl, viewCount: 42 },
        { youtubeVideoId: b!.youtubeVideoId, title: b!.title, videoUrl: b!.videoUrl, description: null },
      ],
    });
    const [readA, readB] = [await read(a!.youtubeVideoId), await read(b!.youtubeVideoId)];
    expect(readA).toMatchObject({ viewCount: 42, description: a!.description });
    expect(readB).toMatchObject({ viewCount: b!.viewCount, description: null });
  });

  it('keeps status, processing history and the first discovery time, and takes a carried priority', async () => {
    const video = await videoFactory.trait('failed').create({ processingPriority: 1 });
    await api.mutate('videos.upsertMany', {
      channelId: video.channelId,
      videos: [
        {
          youtubeVideoId: video.youtubeVideoId,
          title: video.title,
          videoUrl: video.videoUrl,
          processingPriority: 9,
          discoveredAt: new Date(),
        },
      ],
    });
    const after = await read(video.youtubeVideoId);
    expect(after).toMatchObject({
      status: 'failed',
      errorMessage: video.errorMessage,
      retryCount: video.retryCount,
      discoveredAt: video.discoveredAt,
      processingPriority: 9,
    });
  });
});
