import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  transcriptFactory,
  videoFactory,
} from '../../dev/factories';
import { ChannelModel, ProcessingJobModel, TranscriptModel, VideoModel } from '../../src/models';
import { channelSchema, channelStatuses } from '../../src/schemas/channel';
import {
  jobEntityTypes,
  jobStatuses,
  jobTypeEntity,
  jobTypes,
  jobWaitReasons,
  processingJobRow,
} from '../../src/schemas/processing-job';
import { breakerStates } from '../../src/schemas/rate-key';
import { processingSessionSchema, sessionStatuses, sessionTypes } from '../../src/schemas/processing-session';
import { transcriptSchema, transcriptSources } from '../../src/schemas/transcript';
import { videoSchema, videoStatuses } from '../../src/schemas/video';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

describe('the live schema against the zod schemas', () => {
  it('has exactly the enum values the schemas list, in order', async () => {
    const { rows } = await db().raw<{ rows: { name: string; values: string[] }[] }>(
      `SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS values
         FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`,
    );
    const live = Object.fromEntries(rows.map((row) => [row.name, row.values]));
    expect(live).toEqual({
      channel_status: [...channelStatuses],
      video_status: [...videoStatuses],
      transcript_source: [...transcriptSources],
      session_type: [...sessionTypes],
      session_status: [...sessionStatuses],
      job_status: [...jobStatuses],
      job_entity_type: [...jobEntityTypes],
      job_wait_reason: [...jobWaitReasons],
      breaker_state: [...breakerStates],
    });
  });

  it('knows exactly the job types the schemas list, each about the entity the schemas say', async () => {
    const rows = await db()('job_types').orderBy('name').select('name', 'entity_type');
    expect(rows).toEqual([...jobTypes].sort().map((name) => ({ name, entity_type: jobTypeEntity[name] })));
  });

  it('has a column for every schema field and a field for every column, with matching nullability', async () => {
    const snake = (name: string) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
    const tables: [string, z.ZodObject][] = [
      ['channels', channelSchema],
      ['videos', videoSchema],
      ['transcripts', transcriptSchema],
      ['processing_sessions', processingSessionSchema],
      ['processing_jobs', processingJobRow],
    ];
    for (const [table, schema] of tables) {
      const columns = await db()('information_schema.columns')
        .where({ table_schema: 'public', table_name: table })
        .select<{ column_name: string; is_nullable: 'YES' | 'NO' }[]>('column_name', 'is_nullable');
      const live = Object.fromEntries(columns.map((c) => [c.column_name, c.is_nullable === 'YES']));
      const declared = Object.fromEntries(
        Object.entries(schema.shape).map(([field, type]) => [
          snake(field),
          (type as z.ZodType).safeParse(null).success,
        ]),
      );
      expect(live, table).toEqual(declared);
    }
  });
});

describe('integrity kept by the database itself', () => {
  it('rejects an unknown enum value in the model and in raw SQL', async () => {
    await expect(
      ChannelModel.query(db()).insert({ ...channelFactory.build(), status: 'deleted' as 'active' }),
    ).rejects.toThrow(/status/);
    await expect(
      db().raw(
        `INSERT INTO channels (name, youtube_channel_id, channel_url, status) VALUES ('x', 'UCaaaaaaaaaaaaaaaaaaaaab', 'https://x', 'deleted')`,
      ),
    ).rejects.toThrow(/invalid input value for enum channel_status/);
  });

  it('rejects negative counts, confidence outside 0..1 and attempts past the maximum', async () => {
    const video = await videoFactory.create();
    await expect(db()('videos').where({ id: video.id }).update({ view_count: -1 })).rejects.toThrow(/check/);
    const transcript = await transcriptFactory.create({ videoId: video.id });
    await expect(
      db()('transcripts').where({ id: transcript.id }).update({ confidence_score: 1.01 }),
    ).rejects.toThrow(/check/);
    const job = await processingJobFactory.create({ entityId: video.id });
    await expect(db()('processing_jobs').where({ id: job.id }).update({ attempts: 4 })).rejects.toThrow(
      /attempts_within_max/,
    );
  });

  it('rejects a video whose channel does not exist', async () => {
    await expect(VideoModel.query(db()).insert(videoFactory.build())).rejects.toThrow(/foreign key/);
  });

  it('rejects a duplicate YouTube channel or video id', async () => {
    const video = await videoFactory.create();
    await expect(
      videoFactory.create({ channelId: video.channelId, youtubeVideoId: video.youtubeVideoId }),
    ).rejects.toThrow(/videos_youtube_video_id_key/);
    const channel = await ChannelModel.query(db()).findById(video.channelId);
    await expect(channelFactory.create({ youtubeChannelId: channel!.youtubeChannelId })).rejects.toThrow(
      /channels_youtube_channel_id_key/,
    );
  });

  it('moves updated_at on every update, raw SQL included', async () => {
    const channel = await channelFactory.create();
    // Timestamps keep milliseconds: let one pass so the update cannot share the insert's.
    await new Promise((resolve) => setTimeout(resolve, 5));
    await db().raw(`UPDATE channels SET name = 'renamed' WHERE id = ?`, [channel.id]);
    const after = await ChannelModel.query(db()).findById(channel.id);
    expect(after!.updatedAt.getTime()).toBeGreaterThan(channel.updatedAt.getTime());
    expect(after!.createdAt).toEqual(channel.createdAt);
  });

  it('round-trips nested JSONB and text arrays', async () => {
    const metadata = { nested: { list: [1, 'two', { three: null }], flag: true }, unicode: 'ção 日本 🎬' };
    const video = await videoFactory.create({
      metadata,
      tags: ['a b', 'ünïcode', '{braces}', 'comma,inside'],
    });
    const read = await VideoModel.query(db()).findById(video.id);
    expect(read!.metadata).toMatchObject(metadata);
    expect(read!.metadata).toEqual(video.metadata);
    expect(read!.tags).toEqual(['a b', 'ünïcode', '{braces}', 'comma,inside']);
  });

  it('cascades a channel’s deletion to its videos, their transcripts and every job about them', async () => {
    const channel = await channelFactory.create();
    const video = await videoFactory.transient({ transcript: true }).create({ channelId: channel.id });
    const videoJob = await processingJobFactory.create({ entityId: video.id });
    const channelJob = await processingJobFactory.trait('discovery').create({ entityId: channel.id });
    await ChannelModel.query(db()).deleteById(channel.id);
    expect(await VideoModel.query(db()).findById(video.id)).toBeUndefined();
    expect(await TranscriptModel.query(db()).where('video_id', video.id)).toEqual([]);
    expect(await ProcessingJobModel.query(db()).findByIds([videoJob.id, channelJob.id])).toEqual([]);
  });

  it('keeps a deleted session’s jobs with no session', async () => {
    const session = await processingSessionFactory.transient({ jobs: 2 }).create();
    await db()('processing_sessions').where({ id: session.id }).delete();
    const jobs = await ProcessingJobModel.query(db()).findByIds(session.jobs!.map((j) => j.id));
    expect(jobs.map((j) => j.sessionId)).toEqual([null, null]);
  });

  it('allows one queued-or-running job per type and entity, and any number of finished ones', async () => {
    const job = await processingJobFactory.create();
    await expect(processingJobFactory.create({ entityId: job.entityId })).rejects.toThrow(
      /one_active_per_entity/,
    );
    await processingJobFactory.trait('completed').createList(2, { entityId: job.entityId });
  });
});
