import { describe, expect, it } from 'vitest';
import { appRouter } from '../../src/api/router';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  videoFactory,
} from '../../src/factories';
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

describe('video status', () => {
  it('moves only along legal transitions, stamping the processed time on completion', async () => {
    const video = await videoFactory.create();
    const illegal = await api.mutate('videos.update', { id: video.id, status: 'completed' });
    expect(illegal.status).toBe(409);
    expect(illegal.error?.data.field).toBe('status');
    for (const status of ['queued', 'processing', 'completed'] as const) {
      const moved = await api.mutate<Video>('videos.update', { id: video.id, status });
      expect(moved.data.status).toBe(status);
    }
    const read = await api.query<Video>('videos.get', { id: video.id });
    expect(read.data.processedAt).toBeInstanceOf(Date);
    expect((await api.mutate('videos.update', { id: video.id, status: 'queued' })).status).toBe(409);
  });

  it('lets a failed video be queued again, and updates other fields freely', async () => {
    const video = await videoFactory.trait('failed').create();
    const retried = await api.mutate<Video>('videos.update', {
      id: video.id,
      status: 'queued',
      title: 'Retitled',
    });
    expect(retried.data).toMatchObject({ status: 'queued', title: 'Retitled' });
    const missing = await api.mutate('videos.update', {
      id: '00000000-0000-4000-8000-000000000008',
      status: 'queued',
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
