import { describe, expect, it } from 'vitest';
import { processingJobFactory, videoFactory } from '../../dev/factories';
import { translateDatabaseError } from '../../src/services/database-errors';
import { ConflictError, InvalidInputError, UnavailableError } from '../../src/services/errors';
import { getJobEntity } from '../../src/services/processing-jobs';
import { testDatabase } from '../support/database';

const failure = (work: () => PromiseLike<unknown>) =>
  Promise.resolve(work()).then(
    () => undefined,
    (error: unknown) => translateDatabaseError(error),
  );

describe('database errors in the terms of the data', () => {
  it('names the missing column of a NOT NULL violation', async () => {
    const error = await failure(() =>
      testDatabase().db('channels').insert({ name: 'x', channel_url: 'https://x' }),
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ field: 'youtubeChannelId' });
  });

  it('names the rule a CHECK violation broke', async () => {
    const error = await failure(() =>
      testDatabase()
        .db('channels')
        .insert({ youtube_channel_id: 'UCshort', channel_url: 'https://x', name: 'x' }),
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({
      field: 'youtubeChannelId',
      message: 'youtubeChannelId breaks a rule of the data',
    });
  });

  it('calls malformed data invalid input', async () => {
    const error = await failure(() => testDatabase().db.raw(`SELECT 'nope'::uuid`));
    expect(error).toBeInstanceOf(InvalidInputError);
  });

  it('calls a still-referenced row a conflict', async () => {
    const { db } = testDatabase();
    await db.raw('CREATE TABLE IF NOT EXISTS pins (video_id uuid REFERENCES videos (id))');
    const video = await videoFactory.create();
    await db('pins').insert({ video_id: video.id });
    const error = await failure(() => db('videos').where({ id: video.id }).delete());
    expect(error).toBeInstanceOf(ConflictError);
  });

  it('calls a refused or timed-out connection unavailable, and passes anything else through', () => {
    expect(
      translateDatabaseError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBeInstanceOf(UnavailableError);
    expect(
      translateDatabaseError(new Error('Knex: Timeout acquiring a connection. The pool is probably full.')),
    ).toBeInstanceOf(UnavailableError);
    const other = new TypeError('bug');
    expect(translateDatabaseError(other)).toBe(other);
    expect(translateDatabaseError('not an error')).toBe('not an error');
  });
});

describe('a job’s entity', () => {
  it('is its video for a transcript job', async () => {
    const job = await processingJobFactory.create();
    expect(await getJobEntity(testDatabase().db, job.id)).toMatchObject({
      entityType: 'video',
      video: { id: job.entityId },
    });
  });
});
