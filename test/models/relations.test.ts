import { describe, expect, it } from 'vitest';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  transcriptFactory,
  videoFactory,
} from '../../dev/factories';
import {
  ChannelModel,
  ProcessingJobModel,
  ProcessingSessionModel,
  TranscriptModel,
  VideoModel,
} from '../../src/models';
import { testDatabase } from '../support/database';

/** Counts the SQL statements a block issues, to prove graphs load without N+1 queries. */
async function countQueries<T>(run: () => PromiseLike<T>): Promise<{ result: T; queries: number }> {
  const { db } = testDatabase();
  let queries = 0;
  const onQuery = () => (queries += 1);
  db.on('query', onQuery);
  try {
    return { result: await run(), queries };
  } finally {
    db.off('query', onQuery);
  }
}

describe('model relations', () => {
  it('loads a channel with its videos and each video with its channel', async () => {
    const channel = await channelFactory.transient({ videos: 3 }).create();
    const videos = await channel.$relatedQuery('videos', testDatabase().db);
    expect(videos.map((v) => v.id).sort()).toEqual(channel.videos!.map((v) => v.id).sort());
    const back = await videos[0]!.$relatedQuery('channel', testDatabase().db);
    expect(back?.id).toBe(channel.id);
  });

  it('loads a video with its transcripts and each transcript with its video', async () => {
    const video = await videoFactory.transient({ transcript: true }).create();
    const transcripts = await video.$relatedQuery('transcripts', testDatabase().db);
    expect(transcripts).toHaveLength(1);
    expect((await transcripts[0]!.$relatedQuery('video', testDatabase().db))?.id).toBe(video.id);
  });

  it('loads a session with its jobs and each job with its session', async () => {
    const session = await processingSessionFactory.trait('running').transient({ jobs: 2 }).create();
    const jobs = await session.$relatedQuery('jobs', testDatabase().db);
    expect(jobs).toHaveLength(2);
    expect((await jobs[0]!.$relatedQuery('session', testDatabase().db))?.id).toBe(session.id);
  });

  it('follows a job to the channel or video it is about, and back', async () => {
    const videoJob = await processingJobFactory.create();
    const channelJob = await processingJobFactory.trait('discovery').create();
    const withEntities = await ProcessingJobModel.query(testDatabase().db)
      .findByIds([videoJob.id, channelJob.id])
      .withGraphFetched('[channel, video]');
    const byId = new Map(withEntities.map((job) => [job.id, job]));
    expect(byId.get(videoJob.id)?.video?.id).toBe(videoJob.entityId);
    expect(byId.get(videoJob.id)?.channel).toBeNull();
    expect(byId.get(channelJob.id)?.channel?.id).toBe(channelJob.entityId);
    expect(byId.get(channelJob.id)?.video).toBeNull();

    const video = await VideoModel.query(testDatabase().db)
      .findById(videoJob.entityId)
      .withGraphFetched('jobs');
    expect(video?.jobs?.map((j) => j.id)).toEqual([videoJob.id]);
    const channel = await ChannelModel.query(testDatabase().db)
      .findById(channelJob.entityId)
      .withGraphFetched('jobs');
    expect(channel?.jobs?.map((j) => j.id)).toEqual([channelJob.id]);
  });

  it('eager-loads a whole graph in one query per relation, however many rows', async () => {
    const channels = await channelFactory.transient({ videos: 4 }).createList(5);
    await Promise.all(
      channels.flatMap((c) => c.videos!.map((v) => transcriptFactory.create({ videoId: v.id }))),
    );
    const { result, queries } = await countQueries(() =>
      ChannelModel.query(testDatabase().db)
        .findByIds(channels.map((c) => c.id))
        .withGraphFetched('videos.[transcripts, jobs]'),
    );
    expect(result).toHaveLength(5);
    expect(result.flatMap((c) => c.videos!).flatMap((v) => v.transcripts!)).toHaveLength(20);
    expect(queries).toBe(4);
  });

  it('eager-loads transcripts to videos to channels, and sessions to jobs', async () => {
    const transcript = await transcriptFactory.create();
    const loaded = await TranscriptModel.query(testDatabase().db)
      .findById(transcript.id)
      .withGraphFetched('video.channel');
    const video = await VideoModel.query(testDatabase().db).findById(transcript.videoId);
    expect(loaded?.video?.id).toBe(transcript.videoId);
    expect(loaded?.video?.channel?.id).toBe(video!.channelId);
    const session = await processingSessionFactory.transient({ jobs: 3 }).create();
    const withJobs = await ProcessingSessionModel.query(testDatabase().db)
      .findById(session.id)
      .withGraphFetched('jobs');
    expect(withJobs?.jobs).toHaveLength(3);
  });
});
