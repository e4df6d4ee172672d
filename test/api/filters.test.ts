import knex from 'knex';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { migrationsConfig } from '../../src/db/knex-config';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  transcriptFactory,
  videoFactory,
} from '../../dev/factories';
import { ChannelModel } from '../../src/models';
import type { Page } from '../../src/schemas/pagination';
import type { SessionProgress } from '../../src/schemas/responses';
import { useApi } from '../support/api';
import { createDatabaseFromTemplate, dropDatabase, testDatabase } from '../support/database';

const api = useApi();
const later = () => new Date(Date.now() + 60_000);
const earlier = () => new Date(Date.now() - 60_000);

/**
 * Lists with one filter at a time: each decoy differs from the wanted row only where its filter looks, so a list
 * that ignored that filter would hold it (rows of earlier tests can be in the response too; they are not checked).
 */
async function expectEachFilterAlone(
  path: string,
  wanted: { id: string },
  decoys: Record<string, [value: unknown, decoy: { id: string }]>,
): Promise<void> {
  for (const [field, [value, decoy]] of Object.entries(decoys)) {
    const page = await api.query<Page<{ id: string }>>(path, { [field]: value, limit: 100 });
    const ids = page.data.items.map((item) => item.id);
    expect(ids, field).toContain(wanted.id);
    expect(ids, field).not.toContain(decoy.id);
  }
}

describe('list filters', () => {
  it('bound every list by creation time, both ends', async () => {
    await channelFactory.create();
    await transcriptFactory.create();
    await processingJobFactory.create();
    await processingSessionFactory.create();
    for (const path of ['channels.list', 'transcripts.list', 'jobs.list', 'sessions.list']) {
      const none = await api.query<Page<unknown>>(path, { createdAfter: later() });
      expect(none.data.items, path).toEqual([]);
      const before = await api.query<Page<unknown>>(path, { createdBefore: earlier() });
      expect(before.data.items, path).toEqual([]);
      const all = await api.query<Page<unknown>>(path, { createdAfter: earlier(), createdBefore: later() });
      expect(all.data.items.length, path).toBeGreaterThan(0);
    }
  });

  it('take a row created at createdAfter and leave out one created at createdBefore, on every list', async () => {
    const rows = {
      'channels.list': ['channels', await channelFactory.create()],
      'transcripts.list': ['transcripts', await transcriptFactory.create()],
      'jobs.list': ['processing_jobs', await processingJobFactory.create()],
      'sessions.list': ['processing_sessions', await processingSessionFactory.create()],
    } as const;
    // An instant no other row of the database was created at.
    const instant = new Date(Date.UTC(2001, 0, 1) + Math.floor(Math.random() * 1e9));
    const justAfter = new Date(instant.getTime() + 1);
    for (const [path, [table, row]] of Object.entries(rows)) {
      await testDatabase().db(table).where({ id: row.id }).update({ created_at: instant });
      const listed = async (range: Record<string, Date>) =>
        (await api.query<Page<{ id: string }>>(path, range)).data.items.map((item) => item.id);
      expect(await listed({ createdAfter: instant, createdBefore: justAfter }), path).toEqual([row.id]);
      expect(await listed({ createdAfter: justAfter, createdBefore: justAfter }), path).toEqual([]);
      expect(await listed({ createdAfter: instant, createdBefore: instant }), path).toEqual([]);
    }
  });

  it('find jobs by entity, entity type and status with their relations', async () => {
    const job = await processingJobFactory.trait('discovery', 'running').create();
    const page = await api.query<Page<{ id: string; channel?: { id: string } }>>('jobs.list', {
      entityType: 'channel',
      entityId: job.entityId,
      status: 'running',
      include: ['channel'],
    });
    expect(page.data.items.map((j) => j.id)).toEqual([job.id]);
    expect(page.data.items[0]!.channel?.id).toBe(job.entityId);
  });

  it('find jobs by each filter alone, leaving out a job that differs only where that filter looks', async () => {
    const [session, otherSession] = await processingSessionFactory.createList(2);
    const job = await processingJobFactory.trait('completed').create({ sessionId: session!.id });
    const same = { sessionId: session!.id, entityId: job.entityId };
    const ofAnotherType = await processingJobFactory.trait('discovery', 'completed').create(same);
    await expectEachFilterAlone('jobs.list', job, {
      status: ['completed', await processingJobFactory.trait('exhausted').create(same)],
      jobType: ['transcript_extraction', ofAnotherType],
      entityType: ['video', ofAnotherType],
      entityId: [
        job.entityId,
        await processingJobFactory.trait('completed').create({ sessionId: session!.id }),
      ],
      sessionId: [
        session!.id,
        await processingJobFactory.trait('completed').create({ ...same, sessionId: otherSession!.id }),
      ],
    });
  });

  it('find transcripts by each filter alone, leaving out one that differs only where that filter looks', async () => {
    const [video, otherVideo] = await videoFactory.createList(2);
    const transcript = await transcriptFactory.create({ videoId: video!.id, language: 'en' });
    await expectEachFilterAlone('transcripts.list', transcript, {
      videoId: [video!.id, await transcriptFactory.create({ videoId: otherVideo!.id, language: 'en' })],
      language: ['en', await transcriptFactory.create({ videoId: video!.id, language: 'es' })],
      source: [
        'youtube_auto',
        await transcriptFactory.trait('manual').create({ videoId: video!.id, language: 'en' }),
      ],
    });
  });

  it('find videos by each filter alone, leaving out one that differs only where that filter looks', async () => {
    const [channel, otherChannel] = await channelFactory.createList(2);
    const marker = `Filtered ${Date.now()}`;
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);
    const like = {
      channelId: channel!.id,
      title: `${marker} bread`,
      tags: ['bread'],
      publishedAt: hoursAgo(10),
    };
    const video = await videoFactory.create(like);
    await expectEachFilterAlone('videos.list', video, {
      channelId: [channel!.id, await videoFactory.create({ ...like, channelId: otherChannel!.id })],
      status: ['discovered', await videoFactory.trait('failed').create(like)],
      tags: [['bread'], await videoFactory.create({ ...like, tags: ['rye'] })],
      search: [marker, await videoFactory.create({ ...like, title: 'Another title' })],
      publishedAfter: [hoursAgo(20), await videoFactory.create({ ...like, publishedAt: hoursAgo(30) })],
      publishedBefore: [hoursAgo(5), await videoFactory.create({ ...like, publishedAt: hoursAgo(1) })],
    });
  });

  it('take a video published at publishedAfter, leave out one published at publishedBefore, and ask for every tag given', async () => {
    const channel = await channelFactory.create();
    const [at, hourLater] = [new Date('2026-03-01T12:00:00.000Z'), new Date('2026-03-01T13:00:00.000Z')];
    const first = await videoFactory.create({
      channelId: channel.id,
      publishedAt: at,
      tags: ['bread', 'rye'],
    });
    const second = await videoFactory.create({
      channelId: channel.id,
      publishedAt: hourLater,
      tags: ['bread'],
    });
    const listed = async (filters: Record<string, unknown>) =>
      (
        await api.query<Page<{ id: string }>>('videos.list', { channelId: channel.id, ...filters })
      ).data.items.map((item) => item.id);
    expect(await listed({ publishedAfter: at })).toEqual([second.id, first.id]);
    expect(await listed({ publishedBefore: hourLater })).toEqual([first.id]);
    expect(await listed({ publishedAfter: at, publishedBefore: hourLater })).toEqual([first.id]);
    expect(await listed({ tags: ['bread', 'rye'] })).toEqual([first.id]);
    expect(await listed({ tags: ['rye', 'bread'] })).toEqual([first.id]);
    expect(await listed({ tags: ['bread'] })).toEqual([second.id, first.id]);
  });

  it('find channels by each filter alone, leaving out one that differs only where that filter looks', async () => {
    const marker = `Filtered ${Date.now()}`;
    const channel = await channelFactory.create({ name: `${marker} kitchen` });
    await expectEachFilterAlone('channels.list', channel, {
      status: ['active', await channelFactory.trait('paused').create({ name: `${marker} garden` })],
      search: [marker, await channelFactory.create({ name: 'Another name' })],
    });
  });

  it('report no rate or finish time for a session that has not started', async () => {
    const session = await processingSessionFactory.create();
    const progress = await api.query<SessionProgress>('sessions.progress', { id: session.id });
    expect(progress.data).toMatchObject({
      total: 0,
      percentDone: 0,
      ratePerSecond: null,
      estimatedFinishAt: null,
    });
  });

  it('estimate a finish time once jobs complete', async () => {
    const session = await processingSessionFactory
      .trait('running')
      .create({ startedAt: new Date(Date.now() - 10_000) });
    await processingJobFactory.trait('completed').create({ sessionId: session.id });
    await processingJobFactory.create({ sessionId: session.id });
    const progress = await api.query<SessionProgress>('sessions.progress', { id: session.id });
    expect(progress.data.ratePerSecond).toBeGreaterThan(0);
    expect(progress.data.estimatedFinishAt!.getTime()).toBeGreaterThan(Date.now());
  });
});

describe('model validation', () => {
  it('checks a patch against the same field rules as an insert', async () => {
    const channel = await channelFactory.create();
    await expect(
      ChannelModel.query(testDatabase().db).patchAndFetchById(channel.id, { subscriberCount: -5 }),
    ).rejects.toThrow(/subscriberCount/);
    await expect(ChannelModel.query(testDatabase().db).insert({} as never)).rejects.toThrow(/name/);
  });

  it('responds to an update of a missing row with NOT_FOUND', async () => {
    const response = await api.mutate('channels.update', {
      id: '00000000-0000-4000-8000-000000000007',
      name: 'Renamed',
    });
    expect(response.status).toBe(404);
  });
});

describe('readiness with pending migrations', () => {
  it('responds with 503 until the database is migrated', async () => {
    const { name, url } = await createDatabaseFromTemplate('tubesensei_ready');
    const db = knex({ client: 'pg', connection: url, migrations: migrationsConfig });
    await db.raw('DELETE FROM knex_migrations WHERE id = (SELECT max(id) FROM knex_migrations)');
    const app = await buildApp({ db, logger: false, tokens: [], production: false });
    const response = await app.inject({ method: 'GET', url: '/ready' });
    await app.close();
    await db.destroy();
    await dropDatabase(name);
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ status: 'migrations pending', pending: 1 });
  });
});

describe('loading configuration', () => {
  it('reads the process environment', () => {
    expect(loadConfig().DATABASE_POOL_SIZE).toBeGreaterThan(0);
  });
});
