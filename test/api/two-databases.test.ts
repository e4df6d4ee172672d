import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { connect } from '../../src/db/connect';
import { channelFactory } from '../../dev/factories';
import type { Channel } from '../../src/schemas/channel';
import type { Page } from '../../src/schemas/pagination';
import type { ProcessingJob } from '../../src/schemas/processing-job';
import { mutate, query } from '../support/api';
import {
  createDatabaseFromTemplate,
  dropDatabase,
  testDatabase,
  testPoolSettings,
} from '../support/database';

let other: { name: string; db: Knex };
let first: FastifyInstance;
let second: FastifyInstance;

beforeAll(async () => {
  const created = await createDatabaseFromTemplate();
  other = { name: created.name, db: connect(created.url, testPoolSettings) };
  first = await buildApp({ db: testDatabase().db, logger: false, tokens: [], production: false });
  second = await buildApp({
    db: other.db,
    closeDatabase: true,
    logger: false,
    tokens: [],
    production: false,
  });
  await Promise.all([first.ready(), second.ready()]);
});

afterAll(async () => {
  await first.close();
  await second.close();
  await dropDatabase(other.name);
});

const created = async (app: FastifyInstance) =>
  (await mutate<Channel>(app, 'channels.create', channelFactory.build())).data;
const listed = async (app: FastifyInstance) =>
  (await query<Page<Channel>>(app, 'channels.list', { limit: 100 })).data.items.map((channel) => channel.id);

describe('two apps on two databases in one process', () => {
  it('each read and write its own database, the queue included', async () => {
    const [a, b] = [await created(first), await created(second)];
    expect(await listed(first)).toEqual([a.id]);
    expect(await listed(second)).toEqual([b.id]);
    expect(await other.db('channels').pluck('id')).toEqual([b.id]);

    for (const [app, channel] of [
      [first, a],
      [second, b],
    ] as const) {
      await mutate(app, 'jobs.enqueue', {
        jobType: 'channel_discovery',
        entityType: 'channel',
        entityId: channel.id,
      });
    }
    const claimed = await mutate<ProcessingJob[]>(second, 'jobs.claim', { workerId: 'w', limit: 10 });
    expect(claimed.data.map((job) => job.entityId)).toEqual([b.id]);
    const left = await query<Page<ProcessingJob>>(first, 'jobs.list', { status: 'queued' });
    expect(left.data.items.map((job) => job.entityId)).toEqual([a.id]);
  });

  it('close the database they own when they close, and leave a borrowed one open', async () => {
    const owned = connect(testDatabase().url, testPoolSettings);
    const owner = await buildApp({
      db: owned,
      closeDatabase: true,
      logger: false,
      tokens: [],
      production: false,
    });
    const borrower = await buildApp({ db: testDatabase().db, logger: false, tokens: [], production: false });
    await owner.close();
    await borrower.close();
    await expect(owned.raw('SELECT 1')).rejects.toThrow();
    expect((await testDatabase().db.raw('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(first.db).toBe(testDatabase().db);
  });
});
