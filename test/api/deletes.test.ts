import { describe, expect, it } from 'vitest';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  transcriptFactory,
  videoFactory,
} from '../../dev/factories';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const api = useApi();
const db = () => testDatabase().db;

const jobsAbout = (ids: string[]) => db()('processing_jobs').whereIn('entity_id', ids).pluck<string[]>('id');

describe('deleting a row takes what belongs to it, and nothing else', () => {
  it('deletes a video with its transcripts and the jobs about it', async () => {
    const [video, other] = await videoFactory.createList(2);
    await transcriptFactory.create({ videoId: video!.id });
    await processingJobFactory.create({ entityId: video!.id });
    await processingJobFactory.trait('completed').create({ entityId: video!.id });
    const kept = await processingJobFactory.create({ entityId: other!.id });

    expect((await api.mutate('videos.delete', { id: video!.id })).status).toBe(200);
    expect(await jobsAbout([video!.id])).toEqual([]);
    expect(await db()('transcripts').where({ video_id: video!.id })).toEqual([]);
    expect(await jobsAbout([other!.id])).toEqual([kept.id]);
  });

  it('responds 404 naming the id to a delete of a row already deleted, on every delete', async () => {
    const rows = {
      'videos.delete': await videoFactory.create(),
      'channels.delete': await channelFactory.create(),
      'transcripts.delete': await transcriptFactory.create(),
      'jobs.delete': await processingJobFactory.create(),
      'sessions.delete': await processingSessionFactory.create(),
    };
    for (const [path, row] of Object.entries(rows)) {
      expect((await api.mutate(path, { id: row.id })).status, path).toBe(200);
      const again = await api.mutate(path, { id: row.id });
      expect(again.status, path).toBe(404);
      expect(again.error?.data.field, path).toBe('id');
    }
  });

  it('deletes a channel with its videos, their transcripts, its jobs and its videos’ jobs', async () => {
    const channel = await channelFactory.create();
    const other = await channelFactory.create();
    const videos = await videoFactory.createList(3, { channelId: channel.id });
    const otherVideo = await videoFactory.create({ channelId: other.id });
    await transcriptFactory.create({ videoId: videos[0]!.id });
    await processingJobFactory.trait('discovery').create({ entityId: channel.id });
    for (const video of videos) await processingJobFactory.create({ entityId: video.id });
    const keptJobs = [
      (await processingJobFactory.trait('discovery').create({ entityId: other.id })).id,
      (await processingJobFactory.create({ entityId: otherVideo.id })).id,
    ].sort();

    expect((await api.mutate('channels.delete', { id: channel.id })).status).toBe(200);
    const ids = [channel.id, ...videos.map((video) => video.id)];
    expect(await jobsAbout(ids)).toEqual([]);
    expect(await db()('videos').where({ channel_id: channel.id })).toEqual([]);
    expect(await db()('transcripts').whereIn('video_id', ids)).toEqual([]);
    expect((await jobsAbout([other.id, otherVideo.id])).sort()).toEqual(keptJobs);
  });
});
