import { describe, expect, it } from 'vitest';
import { appRouter } from '../../src/api/router';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  videoFactory,
} from '../../dev/factories';
import type { ProcessingSession } from '../../src/schemas/processing-session';
import type { Video } from '../../src/schemas/video';
import { useApi } from '../support/api';

const token = 'every-procedure-token-0123';
const secured = useApi({ apiToken: token });
const api = useApi();

const procedures = Object.entries(
  appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>,
);

describe('every procedure', () => {
  for (const [path, procedure] of procedures) {
    it(`${path} needs the bearer token when one is set`, async () => {
      const call = procedure._def.type === 'query' ? secured.query : secured.mutate;
      const response = await call(path, {});
      expect(response.status).toBe(401);
      expect(response.error?.data.code).toBe('UNAUTHORIZED');
    });
  }
});

describe('video changes', () => {
  it("change a video's own fields, and respond with 404 for a video that does not exist", async () => {
    const video = await videoFactory.trait('failed').create();
    const changed = await api.mutate<Video>('videos.update', { id: video.id, title: 'Retitled' });
    expect(changed.data).toMatchObject({ status: 'failed', title: 'Retitled' });
    const missing = await api.mutate('videos.update', {
      id: '00000000-0000-4000-8000-000000000008',
      title: 'Retitled',
    });
    expect(missing.status).toBe(404);
  });
});

describe('deleting and failing', () => {
  it('deletes a job, and fails a session', async () => {
    const job = await processingJobFactory.create();
    expect((await api.mutate('jobs.delete', { id: job.id })).status).toBe(200);
    expect((await api.query('jobs.get', { id: job.id })).status).toBe(404);
    const session = await processingSessionFactory.trait('running').create();
    const failed = await api.mutate<ProcessingSession>('sessions.fail', { id: session.id });
    expect(failed.data).toMatchObject({ status: 'failed' });
    expect(failed.data.completedAt).toBeInstanceOf(Date);
  });

  it('reads a channel by YouTube id that does not exist as NOT_FOUND naming the field', async () => {
    const { youtubeChannelId } = channelFactory.build();
    const response = await api.query('channels.getByYoutubeId', { youtubeChannelId });
    expect(response.status).toBe(404);
    expect(response.error?.data.field).toBe('youtubeChannelId');
    const video = await api.query('videos.getByYoutubeId', {
      youtubeVideoId: videoFactory.build().youtubeVideoId,
    });
    expect(video.error?.data.field).toBe('youtubeVideoId');
  });
});
