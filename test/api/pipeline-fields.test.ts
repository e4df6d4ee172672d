import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { channelFactory, videoFactory } from '../../dev/factories';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const api = useApi();
const http = () => request(api.app.server);

/** What the video's transcript job keeps, each with a value it could hold after the job ran. */
const keptByTheJob = [
  { field: 'processedAt', value: '2026-01-02T03:04:05.000Z' },
  { field: 'errorMessage', value: 'Request timed out after 30000 ms' },
  { field: 'retryCount', value: 1 },
];

describe("a video's fields its transcript job keeps", () => {
  it.each(keptByTheJob)(
    '$field is rejected by videos.update on both transports, naming it; the video is unchanged',
    async ({ field, value }) => {
      const video = await videoFactory.create();
      const trpc = await api.mutate('videos.update', { id: video.id, title: 'New', [field]: value });
      expect(trpc.status).toBe(400);
      expect(trpc.error?.data.field).toBe(field);
      expect(trpc.error?.message).toBe(`${field}: is kept by the video's transcript job`);
      const rest = await http()
        .patch(`/api/videos/${video.id}`)
        .send({ title: 'New', [field]: value });
      expect(rest.status).toBe(400);
      expect(rest.body).toMatchObject({ code: 'BAD_REQUEST', field });
      const stored = await testDatabase().db('videos').where({ id: video.id }).first();
      expect(stored).toMatchObject({
        title: video.title,
        processed_at: null,
        error_message: null,
        retry_count: 0,
      });
    },
  );

  it.each(keptByTheJob)(
    '$field other than where a video starts is rejected by videos.create on both transports, naming it',
    async ({ field, value }) => {
      const channel = await channelFactory.create();
      const input = {
        ...JSON.parse(JSON.stringify(videoFactory.build({ channelId: channel.id }))),
        [field]: value,
      };
      const trpc = await api.mutate('videos.create', input);
      expect(trpc.status).toBe(400);
      expect(trpc.error?.data.field).toBe(field);
      expect(trpc.error?.message).toBe(
        `${field}: must be ${field === 'retryCount' ? 0 : null}, where it starts; it is kept by the video's transcript job`,
      );
      const rest = await http().post('/api/videos').send(input);
      expect(rest.status).toBe(400);
      expect(rest.body).toMatchObject({ code: 'BAD_REQUEST', field });
      expect(await testDatabase().db('videos').where({ youtube_video_id: input.youtubeVideoId })).toEqual([]);
    },
  );

  it('are taken by videos.create at the values a video starts with', async () => {
    const channel = await channelFactory.create();
    const input = videoFactory.build({ channelId: channel.id });
    const created = await api.mutate('videos.create', {
      ...input,
      processedAt: null,
      errorMessage: null,
      retryCount: 0,
    });
    expect(created.status).toBe(200);
    expect(created.data).toMatchObject({ processedAt: null, errorMessage: null, retryCount: 0 });
  });
});

describe("a channel's field its discovery job keeps", () => {
  const lastCheckedAt = '2026-01-02T03:04:05.000Z';

  it('lastCheckedAt is rejected by channels.update on both transports, naming it; the channel is unchanged', async () => {
    const channel = await channelFactory.create();
    const trpc = await api.mutate('channels.update', { id: channel.id, name: 'New', lastCheckedAt });
    expect(trpc.status).toBe(400);
    expect(trpc.error?.data.field).toBe('lastCheckedAt');
    expect(trpc.error?.message).toBe("lastCheckedAt: is kept by the channel's discovery job");
    const rest = await http().patch(`/api/channels/${channel.id}`).send({ name: 'New', lastCheckedAt });
    expect(rest.status).toBe(400);
    expect(rest.body).toMatchObject({ code: 'BAD_REQUEST', field: 'lastCheckedAt' });
    const stored = await testDatabase().db('channels').where({ id: channel.id }).first();
    expect(stored).toMatchObject({ name: channel.name, last_checked_at: null });
  });

  it('lastCheckedAt other than null is rejected by channels.create on both transports, naming it', async () => {
    const input = { ...JSON.parse(JSON.stringify(channelFactory.build())), lastCheckedAt };
    const trpc = await api.mutate('channels.create', input);
    expect(trpc.status).toBe(400);
    expect(trpc.error?.data.field).toBe('lastCheckedAt');
    const rest = await http().post('/api/channels').send(input);
    expect(rest.status).toBe(400);
    expect(rest.body).toMatchObject({ code: 'BAD_REQUEST', field: 'lastCheckedAt' });
    const created = await api.mutate('channels.create', { ...input, lastCheckedAt: null });
    expect(created.status).toBe(200);
    expect(created.data).toMatchObject({ lastCheckedAt: null });
  });
});
