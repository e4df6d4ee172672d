import { describe, expect, it } from 'vitest';
import { channelFactory, videoFactory } from '../../dev/factories';
import type { Channel } from '../../src/schemas/channel';
import type { Page } from '../../src/schemas/pagination';
import type { VideoCounts } from '../../src/schemas/responses';
import { useApi } from '../support/api';

const api = useApi();

describe('channels API', () => {
  it('creates a channel with the database defaults and reads it back by id and by YouTube id', async () => {
    const input = channelFactory.build({ status: undefined, metadata: undefined });
    const created = await api.mutate<Channel>('channels.create', input);
    expect(created.status).toBe(200);
    expect(created.data).toMatchObject({ name: input.name, status: 'active', metadata: {} });
    expect(created.data.createdAt).toBeInstanceOf(Date);

    const byId = await api.query<Channel>('channels.get', { id: created.data.id });
    expect(byId.data.youtubeChannelId).toBe(input.youtubeChannelId);
    const byYoutubeId = await api.query<Channel>('channels.getByYoutubeId', {
      youtubeChannelId: input.youtubeChannelId,
    });
    expect(byYoutubeId.data.id).toBe(created.data.id);
  });

  it('responds with CONFLICT naming youtubeChannelId for a duplicate, and writes nothing', async () => {
    const existing = await channelFactory.create();
    const duplicate = await api.mutate(
      'channels.create',
      channelFactory.build({ youtubeChannelId: existing.youtubeChannelId }),
    );
    expect(duplicate.status).toBe(409);
    expect(duplicate.error?.data).toMatchObject({ code: 'CONFLICT', field: 'youtubeChannelId' });
  });

  it('rejects an unknown status with BAD_REQUEST and the path of the field', async () => {
    const response = await api.mutate('channels.create', { ...channelFactory.build(), status: 'deleted' });
    expect(response.status).toBe(400);
    expect(response.error?.data.issues?.map((issue) => issue.path)).toEqual([['status']]);
    expect(response.error?.message).toContain('status');
  });

  it('rejects a malformed YouTube id, a negative count and an unknown field, naming each', async () => {
    const response = await api.mutate('channels.create', {
      ...channelFactory.build(),
      youtubeChannelId: 'not-a-channel',
      subscriberCount: -1,
      owner: 'me',
    });
    expect(response.status).toBe(400);
    const paths = response.error?.data.issues?.map((issue) => issue.path.join('.'));
    expect(paths).toEqual(expect.arrayContaining(['youtubeChannelId', 'subscriberCount', 'owner']));
    expect(response.error?.data.field).toBe(paths?.[0]);
  });

  it('updates only the given fields and moves updatedAt', async () => {
    const channel = await channelFactory.create();
    const updated = await api.mutate<Channel>('channels.update', {
      id: channel.id,
      status: 'paused',
      metadata: { a: { b: [1] } },
    });
    expect(updated.data).toMatchObject({ status: 'paused', name: channel.name, metadata: { a: { b: [1] } } });
    expect(updated.data.updatedAt.getTime()).toBeGreaterThan(channel.updatedAt.getTime());
  });

  it('responds with NOT_FOUND for a channel that does not exist, on get, update and delete', async () => {
    const id = '00000000-0000-4000-8000-000000000000';
    for (const response of [
      await api.query('channels.get', { id }),
      await api.mutate('channels.update', { id, name: 'x' }),
      await api.mutate('channels.delete', { id }),
    ]) {
      expect(response.status).toBe(404);
      expect(response.error?.data.code).toBe('NOT_FOUND');
    }
  });

  it('deletes a channel together with its videos', async () => {
    const channel = await channelFactory.transient({ videos: 2 }).create();
    expect((await api.mutate('channels.delete', { id: channel.id })).status).toBe(200);
    const video = await api.query('videos.get', { id: channel.videos![0]!.id });
    expect(video.status).toBe(404);
  });

  it('responds 404 naming youtubeChannelId to a YouTube id it does not know', async () => {
    const response = await api.query('channels.getByYoutubeId', {
      youtubeChannelId: channelFactory.build().youtubeChannelId,
    });
    expect(response.status).toBe(404);
    expect(response.error?.data.field).toBe('youtubeChannelId');
  });

  it('finds channels by name in any case', async () => {
    const channel = await channelFactory.create({ name: `Case Marker ${Date.now()} Kitchen` });
    for (const search of ['case marker', 'KITCHEN'])
      expect(
        (await api.query<Page<Channel>>('channels.list', { search })).data.items.map((c) => c.id),
        search,
      ).toContain(channel.id);
  });

  it('lists channels by status and name, newest first, a page at a time', async () => {
    const marker = `Marker ${Date.now()}`;
    const paused = await channelFactory.trait('paused').createList(3, { name: `${marker} paused` });
    await channelFactory.create({ name: `${marker} active` });
    const first = await api.query<Page<Channel>>('channels.list', {
      status: 'paused',
      search: marker,
      limit: 2,
    });
    expect(first.data.items).toHaveLength(2);
    const second = await api.query<Page<Channel>>('channels.list', {
      status: 'paused',
      search: marker,
      limit: 2,
      cursor: first.data.nextCursor,
    });
    expect(second.data.nextCursor).toBeNull();
    const ids = [...first.data.items, ...second.data.items].map((c) => c.id);
    expect(ids.sort()).toEqual(paused.map((c) => c.id).sort());
  });

  it('counts a channel’s videos by status', async () => {
    const channel = await channelFactory.create();
    await videoFactory.createList(2, { channelId: channel.id });
    await videoFactory.trait('failed').create({ channelId: channel.id });
    const counts = await api.query<VideoCounts>('channels.videoCounts', { channelId: channel.id });
    expect(counts.data).toEqual({
      discovered: 2,
      queued: 0,
      processing: 0,
      completed: 0,
      failed: 1,
      total: 3,
    });
  });
});
