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
} from '../../src/factories';
import { ChannelModel } from '../../src/models';
import type { Page } from '../../src/schemas/pagination';
import type { SessionProgress } from '../../src/schemas/responses';
import { useApi } from '../support/api';
import { createDatabaseFromTemplate, dropDatabase, testDatabase } from '../support/database';

const api = useApi();
const later = () => new Date(Date.now() + 60_000);
const earlier = () => new Date(Date.now() - 60_000);

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

  it('answers BAD_REQUEST for an empty update of a missing row as NOT_FOUND', async () => {
    const response = await api.mutate('channels.update', { id: '00000000-0000-4000-8000-000000000007' });
    expect(response.status).toBe(404);
  });
});

describe('readiness with pending migrations', () => {
  it('answers 503 until the database is migrated', async () => {
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
