import { describe, expect, it } from 'vitest';
import { seedDatabase } from '../../dev/seeding/bulk-seed';
import { seedPlanFrom } from '../../dev/seeding/seed-plan';
import { channelSchema, channelWrite } from '../../src/schemas/channel';
import { ChannelModel, ProcessingSessionModel, TranscriptModel, VideoModel } from '../../src/models';
import { countWords } from '../../src/schemas/transcript';
import { videoSchema, videoWrite } from '../../src/schemas/video';
import { testDatabase } from '../support/database';

const tables = ['channels', 'videos', 'transcripts', 'processing_jobs', 'processing_sessions'];

async function checksums(): Promise<Record<string, string>> {
  const { db } = testDatabase();
  const sums: Record<string, string> = {};
  for (const table of tables) {
    const { rows } = await db.raw(
      `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY id), '')) AS sum FROM ${table} t`,
    );
    sums[table] = rows[0].sum;
  }
  return sums;
}

describe('knex seed:run', () => {
  it('replaces the data instead of piling it up, identically for the same seed number', async () => {
    const plan = seedPlanFrom({ SEED: '7', SEED_VIDEOS: '300', SEED_CHANNELS: '6' });
    const first = await seedDatabase(testDatabase().db, plan);
    const firstSums = await checksums();
    const second = await seedDatabase(testDatabase().db, plan);
    expect(second.rows).toEqual(first.rows);
    expect(await checksums()).toEqual(firstSums);
    expect(first.rows.videos).toBe(300);
    expect(first.rows.channels).toBe(6);

    const other = await seedDatabase(testDatabase().db, { ...plan, seed: 8 });
    expect(other.rows.videos).toBe(300);
    expect((await checksums()).videos).not.toBe(firstSums.videos);
  });

  it('gives the same rows whether they are stored in one batch or in many overlapping ones', async () => {
    const plan = seedPlanFrom({ SEED: '11', SEED_VIDEOS: '1300', SEED_CHANNELS: '7' });
    expect(plan.batchVideos).toBeGreaterThan(plan.videos);
    await seedDatabase(testDatabase().db, plan);
    const oneBatch = await checksums();
    // 1,300 videos in batches of 97: thirteen full batches stored while the next is built, and a partial one.
    const batched = await seedDatabase(testDatabase().db, { ...plan, batchVideos: 97 });
    expect(batched.rows.videos).toBe(1_300);
    expect(await checksums()).toEqual(oneBatch);
  });

  it('makes coherent rows: schema-valid, words counted, publish dates rising within a channel, counters agreeing', async () => {
    await seedDatabase(testDatabase().db, seedPlanFrom({ SEED_VIDEOS: '200', SEED_CHANNELS: '4' }));
    // As a row and as a write: a seeded row holds the rules a client's write would be held to today.
    for (const channel of await ChannelModel.query(testDatabase().db)) {
      expect(channelSchema.safeParse(channel.$toJson()).success).toBe(true);
      expect(channelWrite.strip().safeParse(channel.$toJson()).error?.issues ?? []).toEqual([]);
    }
    const videos = await VideoModel.query(testDatabase().db).orderBy(['channel_id', 'created_at']);
    for (const video of videos) {
      expect(videoSchema.safeParse(video.$toJson()).error?.issues ?? []).toEqual([]);
      expect(videoWrite.strip().safeParse(video.$toJson()).error?.issues ?? []).toEqual([]);
    }
    const byChannel = new Map<string, typeof videos>();
    for (const video of videos)
      byChannel.set(video.channelId, [...(byChannel.get(video.channelId) ?? []), video]);
    for (const list of byChannel.values()) {
      const published = list.map((v) => v.publishedAt!.getTime());
      const sorted = [...published].sort((a, b) => a - b);
      expect(new Set(published).size).toBe(published.length);
      expect(sorted[0]).toBeLessThan(sorted.at(-1)!);
    }
    for (const transcript of await TranscriptModel.query(testDatabase().db))
      expect(transcript.wordCount).toBe(countWords(transcript.content));
    const { rows } = await testDatabase().db.raw(`
      SELECT s.id, s.total_videos, s.processed_videos,
             (SELECT count(*)::int FROM processing_jobs j WHERE j.session_id = s.id) AS jobs,
             (SELECT count(*)::int FROM processing_jobs j WHERE j.session_id = s.id AND j.status = 'completed') AS done
        FROM processing_sessions s`);
    for (const row of rows) {
      expect(row.total_videos).toBe(row.jobs);
      expect(row.processed_videos).toBe(row.done);
    }
    expect(await ProcessingSessionModel.query(testDatabase().db).resultSize()).toBe(3);
  });

  it('dates the demo as of the start of the current UTC day at any hour, never after the moment it runs', () => {
    for (const at of [
      '2026-03-08T00:00:00Z',
      '2026-03-08T11:59:59Z',
      '2026-03-08T12:00:00Z',
      '2026-03-08T23:59:59Z',
    ]) {
      expect(seedPlanFrom({}, new Date(at)).referenceDate, at).toEqual(new Date('2026-03-08T00:00:00Z'));
    }
  });

  it('will not run in production unless forced', () => {
    expect(() => seedPlanFrom({ NODE_ENV: 'production' })).toThrow(/SEED_FORCE/);
    expect(seedPlanFrom({ NODE_ENV: 'production', SEED_FORCE: 'true' }).videos).toBe(1_000);
    expect(() => seedPlanFrom({ SEED_VIDEOS: '-1' })).toThrow(/SEED_VIDEOS/);
  });
});
