import { describe, expect, it } from 'vitest';
import { channelFactory, discoveredVideos, transcriptFactory, videoFactory } from '../../dev/factories';
import type { Page } from '../../src/schemas/pagination';
import type { Video } from '../../src/schemas/video';
import type { UpsertResult, VideoWithRelations } from '../../src/schemas/responses';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const api = useApi();

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);

/** Every page of a list, following nextCursor to the end. */
async function allPages(input: Record<string, unknown>): Promise<Video[][]> {
  const pages: Video[][] = [];
  let cursor: string | null | undefined;
  do {
    const page = await api.query<Page<Video>>('videos.list', { ...input, cursor: cursor ?? undefined });
    expect(page.status).toBe(200);
    pages.push(page.data.items);
    cursor = page.data.nextCursor;
  } while (cursor);
  return pages;
}

describe('videos API', () => {
  it('creates a video and reads it by YouTube id with its channel and transcripts', async () => {
    const channel = await channelFactory.create();
    const created = await api.mutate<Video>('videos.create', videoFactory.build({ channelId: channel.id }));
    expect(created.status).toBe(200);
    await transcriptFactory.create({ videoId: created.data.id, language: 'de' });
    await transcriptFactory.trait('manual').create({ videoId: created.data.id, language: 'en' });
    const read = await api.query<VideoWithRelations>('videos.getByYoutubeId', {
      youtubeVideoId: created.data.youtubeVideoId,
      include: ['channel', 'transcripts'],
    });
    expect(read.data.channel?.id).toBe(channel.id);
    expect(read.data.transcripts).toHaveLength(2);
    expect(read.data.transcripts?.every((t) => t.videoId === created.data.id)).toBe(true);
  });

  it('responds with BAD_REQUEST naming channelId when the channel does not exist', async () => {
    const response = await api.mutate(
      'videos.create',
      videoFactory.build({ channelId: '00000000-0000-4000-8000-000000000001' }),
    );
    expect(response.status).toBe(400);
    expect(response.error?.data.field).toBe('channelId');
  });

  it('responds with CONFLICT naming youtubeVideoId for a duplicate', async () => {
    const video = await videoFactory.create();
    const response = await api.mutate(
      'videos.create',
      videoFactory.build({ channelId: video.channelId, youtubeVideoId: video.youtubeVideoId }),
    );
    expect(response.status).toBe(409);
    expect(response.error?.data.field).toBe('youtubeVideoId');
  });

  it('rejects a view count past what a number holds exactly and a tag list that is not strings', async () => {
    const response = await api.mutate('videos.create', {
      ...videoFactory.build(),
      viewCount: 2 ** 60,
      tags: [1],
    });
    expect(response.status).toBe(400);
    expect(new Set(response.error?.data.issues?.map((i) => i.path.join('.')))).toEqual(
      new Set(['tags.0', 'viewCount']),
    );
  });

  it('keeps view counts past 2^31 exactly', async () => {
    const video = await videoFactory.create({ viewCount: 9_876_543_210 });
    const read = await api.query<Video>('videos.get', { id: video.id });
    expect(read.data.viewCount).toBe(9_876_543_210);
  });

  describe('upsertMany', () => {
    it('inserts a batch of 500 in one call, then treats the same batch as updates', async () => {
      const channel = await channelFactory.create();
      const videos = discoveredVideos(500);
      const first = await api.mutate<UpsertResult>('videos.upsertMany', { channelId: channel.id, videos });
      expect(first.data).toEqual({ inserted: 500, updated: 0, skipped: [] });
      const renamed = videos.map((video) => ({ ...video, title: `${video.title} (remastered)` }));
      const second = await api.mutate<UpsertResult>('videos.upsertMany', {
        channelId: channel.id,
        videos: renamed,
      });
      expect(second.data).toEqual({ inserted: 0, updated: 500, skipped: [] });
      const { count } = (await testDatabase()
        .db('videos')
        .where({ channel_id: channel.id })
        .count('* as count')
        .first())!;
      expect(Number(count)).toBe(500);
      const one = await api.query<Video>('videos.getByYoutubeId', {
        youtubeVideoId: videos[0]!.youtubeVideoId,
      });
      expect(one.data.title).toMatch(/remastered/);
    });

    it('leaves another channel’s video alone and reports it as skipped', async () => {
      const theirs = await videoFactory.create();
      const mine = await channelFactory.create();
      const result = await api.mutate<UpsertResult>('videos.upsertMany', {
        channelId: mine.id,
        videos: discoveredVideos(1, { youtubeVideoId: theirs.youtubeVideoId }),
      });
      expect(result.data).toEqual({ inserted: 0, updated: 0, skipped: [theirs.youtubeVideoId] });
    });

    it('rejects a batch over 500 or with the same id twice, and writes none of it', async () => {
      const channel = await channelFactory.create();
      const twice = discoveredVideos(2);
      twice[1]!.youtubeVideoId = twice[0]!.youtubeVideoId;
      const duplicate = await api.mutate('videos.upsertMany', { channelId: channel.id, videos: twice });
      expect(duplicate.status).toBe(400);
      expect(duplicate.error?.data.issues?.[0]?.path).toEqual(['videos', 1, 'youtubeVideoId']);
      const tooMany = await api.mutate('videos.upsertMany', {
        channelId: channel.id,
        videos: discoveredVideos(501),
      });
      expect(tooMany.status).toBe(400);
      expect(await testDatabase().db('videos').where({ channel_id: channel.id }).first()).toBeUndefined();
    });
  });

  describe('pagination', () => {
    it('returns an empty page with no cursor when nothing matches', async () => {
      const channel = await channelFactory.create();
      const page = await api.query<Page<Video>>('channels.videos', { channelId: channel.id });
      expect(page.data).toEqual({ items: [], nextCursor: null });
    });

    it('returns exactly one full page without a cursor to an empty next page', async () => {
      const channel = await channelFactory.create();
      await videoFactory.createList(5, { channelId: channel.id });
      const pages = await allPages({ channelId: channel.id, limit: 5 });
      expect(pages.map((p) => p.length)).toEqual([5]);
    });

    it('walks every video once, newest published first, unpublished last', async () => {
      const channel = await channelFactory.create();
      const published = await Promise.all(
        [1, 2, 3, 4, 5].map((h) => videoFactory.create({ channelId: channel.id, publishedAt: hoursAgo(h) })),
      );
      const unpublished = await videoFactory.trait('unpublished').createList(2, { channelId: channel.id });
      const pages = await allPages({ channelId: channel.id, limit: 3 });
      expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
      const ids = pages.flat().map((v) => v.id);
      expect(ids.slice(0, 5)).toEqual(published.map((v) => v.id));
      expect(ids.slice(5).sort()).toEqual(unpublished.map((v) => v.id).sort());
    });

    it('continues after a cursor whose row was deleted', async () => {
      const channel = await channelFactory.create();
      const videos = await Promise.all(
        [1, 2, 3, 4].map((h) => videoFactory.create({ channelId: channel.id, publishedAt: hoursAgo(h) })),
      );
      const first = await api.query<Page<Video>>('videos.list', { channelId: channel.id, limit: 2 });
      await api.mutate('videos.delete', { id: first.data.items[1]!.id });
      const next = await api.query<Page<Video>>('videos.list', {
        channelId: channel.id,
        limit: 2,
        cursor: first.data.nextCursor,
      });
      expect(next.data.items.map((v) => v.id)).toEqual([videos[2]!.id, videos[3]!.id]);
    });

    it('rejects a cursor it never issued and a limit over 100', async () => {
      for (const input of [
        { cursor: 'bm90LWEtY3Vyc29y' },
        { cursor: 'x'.repeat(10) },
        { limit: 101 },
        { limit: 0 },
      ]) {
        const response = await api.query('videos.list', input);
        expect(response.status).toBe(400);
      }
    });
  });

  it('combines channel, status, tags, title and date filters', async () => {
    const channel = await channelFactory.create();
    const match = await videoFactory.trait('completed').create({
      channelId: channel.id,
      title: 'Sourdough 100% hydration',
      tags: ['bread', 'baking'],
      publishedAt: hoursAgo(10),
    });
    await videoFactory.trait('completed').create({
      channelId: channel.id,
      title: 'Sourdough basics',
      tags: ['bread'],
      publishedAt: hoursAgo(10),
    });
    await videoFactory.create({
      channelId: channel.id,
      title: 'Sourdough 100% again',
      tags: ['bread', 'baking'],
      publishedAt: hoursAgo(10),
    });
    await videoFactory.trait('completed').create({
      channelId: channel.id,
      title: 'Sourdough 100% old',
      tags: ['bread', 'baking'],
      publishedAt: hoursAgo(100),
    });
    const page = await api.query<Page<Video>>('videos.list', {
      channelId: channel.id,
      status: 'completed',
      tags: ['baking', 'bread'],
      search: '100%',
      publishedAfter: hoursAgo(20),
      publishedBefore: new Date(),
    });
    expect(page.data.items.map((v) => v.id)).toEqual([match.id]);
  });

  it('lists videos with their channels and transcripts in a fixed number of queries', async () => {
    const channel = await channelFactory.transient({ videos: 6 }).create();
    await Promise.all(channel.videos!.map((video) => transcriptFactory.create({ videoId: video.id })));
    const { db } = testDatabase();
    let queries = 0;
    const count = () => (queries += 1);
    db.on('query', count);
    const page = await api.query<Page<VideoWithRelations>>('videos.list', {
      channelId: channel.id,
      include: ['channel', 'transcripts', 'jobs'],
    });
    db.off('query', count);
    expect(page.data.items).toHaveLength(6);
    expect(page.data.items.every((v) => v.channel?.id === channel.id && v.transcripts?.length === 1)).toBe(
      true,
    );
    expect(queries).toBe(4);
  });

  it('rejects an include outside the allow-list', async () => {
    const response = await api.query('videos.list', { include: ['channel.videos'] });
    expect(response.status).toBe(400);
  });

  it('pages a video’s transcripts, and responds with NOT_FOUND for a missing video', async () => {
    const video = await videoFactory.transient({ transcript: true }).create();
    const page = await api.query<Page<unknown>>('videos.transcripts', { videoId: video.id });
    expect(page.data.items).toHaveLength(1);
    const missing = await api.query('videos.transcripts', {
      videoId: '00000000-0000-4000-8000-000000000002',
    });
    expect(missing.status).toBe(404);
  });
});
