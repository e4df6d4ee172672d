import { describe, expect, it } from 'vitest';
import { channelFactory, discoveredVideos, videoFactory } from '../../src/factories';
import { upsertVideosInput } from '../../src/schemas/video';
import { deleteVideo, listVideos, updateVideo, upsertVideos } from '../../src/services/videos';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

/** The tag index must hold exactly one row per distinct (video, tag), with the video's sort key. */
async function expectTagIndexMatchesVideos(): Promise<void> {
  const { rows: missingOrStale } = await db().raw(`
    (SELECT DISTINCT v.id, t.tag, coalesce(v.published_at, '-infinity') FROM videos v, unnest(v.tags) t (tag)
     EXCEPT SELECT video_id, tag, published FROM video_tags)
    UNION ALL
    (SELECT video_id, tag, published FROM video_tags
     EXCEPT SELECT DISTINCT v.id, t.tag, coalesce(v.published_at, '-infinity') FROM videos v, unnest(v.tags) t (tag))`);
  expect(missingOrStale).toEqual([]);
}

describe('the tag index behind videos.list by tag', () => {
  it('follows inserts, tag and publish-date changes, upserts, status moves and deletes', async () => {
    const channel = await channelFactory.create();
    const [a, b, c] = await videoFactory.createList(3, {
      channelId: channel.id,
      tags: ['rust', 'rust', 'async'],
    });
    await expectTagIndexMatchesVideos();

    await updateVideo({ id: a!.id, tags: ['go'] });
    await updateVideo({ id: b!.id, publishedAt: new Date('2001-01-01T00:00:00Z') });
    await updateVideo({ id: c!.id, status: 'queued' });
    await db()('videos')
      .where({ id: c!.id })
      .update({ tags: db().raw(`array_append(tags, 'raw-sql')`) });
    const batch = discoveredVideos(3, { tags: ['batch'] });
    await upsertVideos(upsertVideosInput.parse({ channelId: channel.id, videos: batch }));
    await upsertVideos(
      upsertVideosInput.parse({
        channelId: channel.id,
        videos: batch.map((video) => ({ ...video, tags: ['rebatched'] })),
      }),
    );
    await deleteVideo(b!.id);
    await expectTagIndexMatchesVideos();

    const rust = await listVideos({ channelId: channel.id, tags: ['rust'], limit: 10 });
    expect(rust.items.map((video) => video.id)).toEqual([c!.id]);
    expect((await listVideos({ tags: ['batch'], limit: 10 })).items).toEqual([]);
    expect((await listVideos({ tags: ['rebatched'], limit: 10 })).items).toHaveLength(3);
  });

  it('pages a tag newest published first, unpublished last, and filters by further tags', async () => {
    const channel = await channelFactory.create();
    const dates = ['2020-01-01', '2022-01-01', null, '2021-01-01'];
    const videos = await Promise.all(
      dates.map((date, index) =>
        videoFactory.create({
          channelId: channel.id,
          publishedAt: date ? new Date(`${date}T00:00:00Z`) : null,
          tags: index === 0 ? ['paging'] : ['paging', 'extra'],
        }),
      ),
    );
    const first = await listVideos({ channelId: channel.id, tags: ['paging'], limit: 2 });
    const second = await listVideos({
      channelId: channel.id,
      tags: ['paging'],
      limit: 2,
      cursor: first.nextCursor!,
    });
    expect([...first.items, ...second.items].map((video) => video.id)).toEqual(
      [videos[1], videos[3], videos[0], videos[2]].map((video) => video!.id),
    );
    expect(second.nextCursor).toBeNull();
    const both = await listVideos({ channelId: channel.id, tags: ['paging', 'extra'], limit: 10 });
    expect(both.items.map((video) => video.id)).toEqual(
      [videos[1], videos[3], videos[2]].map((video) => video!.id),
    );
  });
});
