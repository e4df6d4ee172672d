import {
  CheckViolationError,
  DataError,
  DBError,
  ForeignKeyViolationError,
  NotNullViolationError,
  UniqueViolationError,
  wrapError,
} from 'db-errors';
import { ValidationError } from 'objection';
import { beforeAll, describe, expect, it } from 'vitest';
import { channelFactory, processingSessionFactory, videoFactory } from '../../dev/factories';
import {
  transientCode,
  translateDatabaseError,
  UnexpectedDatabaseError,
} from '../../src/services/database-errors';
import { ConflictError, InvalidInputError, UnavailableError } from '../../src/services/errors';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

/** An error as pg reports one PostgreSQL sent: its SQLSTATE in `code`, with the fields db-errors looks for. */
const driverError = (code: string, message: string) =>
  Object.assign(new Error(message), { code, severity: 'FATAL', table: undefined, internalQuery: undefined });

/** What a statement's failure becomes, with the driver's error kept as the cause. */
async function rejectionOf(statement: () => PromiseLike<unknown>) {
  const thrown = await Promise.resolve(statement()).then(
    () => expect.unreachable('the statement was accepted'),
    (error: unknown) => error,
  );
  return translateDatabaseError(thrown) as Error & { field?: string; cause?: unknown };
}

beforeAll(async () => {
  // Constraints no mapping names: the translation must fall back to what PostgreSQL says.
  await db().raw(`
    CREATE TABLE IF NOT EXISTS pins (
      video_id uuid REFERENCES videos (id),
      board text,
      pin_label text,
      weight int CONSTRAINT weight_is_small CHECK (weight < 10),
      rank int CHECK (rank > 0),
      UNIQUE (video_id, board, pin_label)
    )`);
});

describe('each kind of database rejection, as the caller is told it', () => {
  it('a duplicate of a named unique key is a conflict on its input field', async () => {
    const channel = await channelFactory.create();
    const error = await rejectionOf(() =>
      db()('channels').insert({
        youtube_channel_id: channel.youtubeChannelId,
        channel_url: 'https://www.youtube.com/@copy',
        name: 'copy',
      }),
    );
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ field: 'youtubeChannelId', message: 'youtubeChannelId already exists' });
    expect(error.cause).toBeInstanceOf(UniqueViolationError);
  });

  it('a duplicate of an unnamed unique key is a conflict on its last column, in camelCase', async () => {
    const video = await videoFactory.create();
    const row = { video_id: video.id, board: 'b', pin_label: 'p' };
    await db()('pins').insert(row);
    const error = await rejectionOf(() => db()('pins').insert(row));
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ field: 'pinLabel', message: 'pinLabel already exists' });
  });

  it('a missing parent is invalid input naming the parent and its field', async () => {
    const error = await rejectionOf(() =>
      db()('transcripts').insert({
        video_id: '00000000-0000-4000-8000-000000000000',
        content: 'words',
        source: 'youtube_auto',
      }),
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ field: 'videoId', message: 'video does not exist' });
    expect(error.cause).toBeInstanceOf(ForeignKeyViolationError);
  });

  it('a job type unknown for its entity is invalid input in words of its own', async () => {
    const channel = await channelFactory.create();
    const error = await rejectionOf(() =>
      db()('processing_jobs').insert({
        job_type: 'transcript_extraction',
        entity_type: 'channel',
        entity_id: channel.id,
      }),
    );
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({
      field: 'entityType',
      message: 'the job type is unknown or is about the other kind of entity',
    });
  });

  it('deleting a row others still reference is a conflict about no field', async () => {
    const video = await videoFactory.create();
    await db()('pins').insert({ video_id: video.id });
    const error = await rejectionOf(() => db()('videos').where({ id: video.id }).delete());
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({ field: undefined, message: 'the row is still referenced by other rows' });
    expect(error.cause).toBeInstanceOf(ForeignKeyViolationError);
  });

  it('a CHECK PostgreSQL named itself names its column', async () => {
    const error = await rejectionOf(() => db()('pins').insert({ rank: 0 }));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ field: 'rank', message: 'rank breaks a rule of the data' });
    expect(error.cause).toBeInstanceOf(CheckViolationError);
  });

  it('a CHECK named otherwise names no field', async () => {
    const error = await rejectionOf(() => db()('pins').insert({ weight: 10 }));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ field: undefined, message: 'the input breaks a rule of the data' });
  });

  it('a CHECK about the state of other rows is a conflict in words of its own', async () => {
    const session = await processingSessionFactory.create({ status: 'completed' });
    const video = await videoFactory.create();
    const error = await rejectionOf(() =>
      db()('processing_jobs').insert({
        job_type: 'transcript_extraction',
        entity_type: 'video',
        entity_id: video.id,
        session_id: session.id,
      }),
    );
    expect(error).toBeInstanceOf(ConflictError);
    expect(error).toMatchObject({
      field: 'sessionId',
      message: 'the session is finished and takes no new jobs',
    });
  });

  it('a NOT NULL names the missing field', async () => {
    const error = await rejectionOf(() => db()('channels').insert({ name: 'x', channel_url: 'https://x' }));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ field: 'youtubeChannelId', message: 'youtubeChannelId is required' });
    expect(error.cause).toBeInstanceOf(NotNullViolationError);
  });

  it('malformed data is invalid input that quotes nothing of the statement', async () => {
    const error = await rejectionOf(() => db().raw(`SELECT 'secret-looking'::uuid`));
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({ field: undefined, message: 'a value cannot be stored as given' });
    expect(error.cause).toBeInstanceOf(DataError);
  });

  it("a model's validation failure is invalid input on its first field, with the validator's message", () => {
    const thrown = new ValidationError({
      type: 'ModelValidation',
      message: 'name: too short; title: required',
      data: { name: [], title: [] },
    });
    const error = translateDatabaseError(thrown);
    expect(error).toBeInstanceOf(InvalidInputError);
    expect(error).toMatchObject({
      field: 'name',
      message: 'name: too short; title: required',
      cause: thrown,
    });
    expect(
      translateDatabaseError(new ValidationError({ type: 'ModelValidation', message: 'm' })),
    ).toMatchObject({
      field: undefined,
    });
  });
});

describe('failures the caller may retry', () => {
  it.each(['40P01', '40001', '55P03'])(
    '%s (a lost race) is unavailable: busy with concurrent writes',
    (code) => {
      const thrown = Object.assign(new Error('could not serialize access'), { code });
      const error = translateDatabaseError(thrown);
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({
        message: 'the database is busy with concurrent writes; try again',
        field: undefined,
        cause: thrown,
      });
    },
  );

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'])(
    '%s (the socket failed) is unavailable',
    (code) => {
      const thrown = Object.assign(new Error('connection trouble'), { code });
      const error = translateDatabaseError(thrown);
      expect(error).toBeInstanceOf(UnavailableError);
      expect(error).toMatchObject({ message: 'the database is unavailable', cause: thrown });
    },
  );

  it.each(['08000', '08001', '08003', '08006', '57P01', '57P02', '57P03', '57P04', '57P05', '53300'])(
    'SQLSTATE %s (class 08, class 57P, too many connections) is unavailable, whatever its message',
    (code) => {
      const thrown = driverError(code, 'words PostgreSQL may change');
      expect(translateDatabaseError(thrown)).toBeInstanceOf(UnavailableError);
    },
  );

  it('reads the SQLSTATE from the driver error Objection wraps, and keeps the statement out of the message', () => {
    const native = driverError('57P01', 'terminating connection due to administrator command');
    const wrapped = wrapError(native);
    expect(wrapped).toBeInstanceOf(DBError);
    wrapped.message = `update "videos" set "title" = $1 - ${native.message}`;
    const error = translateDatabaseError(wrapped);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error).toMatchObject({ message: 'the database is unavailable', cause: wrapped });
  });

  it('reads it through any depth of causes, and stops at a cycle', () => {
    const native = driverError('08006', 'connection failure');
    const outer = new Error('the transaction failed', {
      cause: new Error('its query failed', { cause: native }),
    });
    expect(translateDatabaseError(outer)).toBeInstanceOf(UnavailableError);
    const looped: Error & { cause?: unknown } = new Error('looped');
    looped.cause = new Error('back', { cause: looped });
    expect(translateDatabaseError(looped)).toBe(looped);
  });

  it.each([
    'Knex: Timeout acquiring a connection. The pool is probably full.',
    'Connection terminated unexpectedly',
    'Connection terminated due to connection timeout',
    'Connection ended unexpectedly',
    'Client has encountered a connection error and is not queryable',
    'Client was closed and is not queryable',
  ])('"%s", from the driver or the pool with no code, is unavailable', (message) => {
    expect(translateDatabaseError(new Error(message))).toBeInstanceOf(UnavailableError);
    expect(
      translateDatabaseError(new Error('the request failed', { cause: new Error(message) })),
    ).toBeInstanceOf(UnavailableError);
  });

  it("decides by the SQLSTATE where there is one, not by the message's words", () => {
    for (const [code, message] of [
      ['57014', 'canceling statement due to statement timeout'],
      ['P0001', 'Connection terminated unexpectedly'],
      ['42601', 'the database system is shutting down'],
    ]) {
      const thrown = driverError(code!, message!);
      // A failure of no kind the API names: a 500 naming its SQLSTATE, the driver's error kept as its cause.
      const error = translateDatabaseError(thrown);
      expect(error).toBeInstanceOf(UnexpectedDatabaseError);
      expect(error).toMatchObject({ sqlState: code, cause: { nativeError: thrown } });
      expect((error as Error).cause).toBeInstanceOf(DBError);
    }
  });

  it('a SQLSTATE of no kind the API names is an unexpected database error, not a race to run again', () => {
    const error = translateDatabaseError(Object.assign(new Error('odd'), { code: '40P02' }));
    expect(error).toBeInstanceOf(UnexpectedDatabaseError);
    expect(error).toMatchObject({ sqlState: '40P02' });
  });

  it('anything else passes through unchanged, codes that only look alike included', () => {
    for (const thrown of [
      new TypeError('bug'),
      Object.assign(new Error('odd'), { code: 'E40P2' }),
      Object.assign(new Error('odd'), { code: 40001 }),
      Object.assign(new Error('odd'), { code: 53300 }),
    ])
      expect(translateDatabaseError(thrown)).toBe(thrown);
    expect(translateDatabaseError('not an error')).toBe('not an error');
  });

  it('finds the SQLSTATE of a lost race on the error or on the driver error it wraps', () => {
    expect(transientCode({ code: '40P01' })).toBe('40P01');
    expect(transientCode({ nativeError: { code: '40001' } })).toBe('40001');
    expect(transientCode(new Error('the transaction failed', { cause: { code: '40001' } }))).toBe('40001');
    expect(transientCode({ code: '55P03', nativeError: { code: '23505' } })).toBe('55P03');
    expect(transientCode({ code: '23505' })).toBeUndefined();
    expect(transientCode({ code: 40001 })).toBeUndefined();
    expect(transientCode(null)).toBeUndefined();
    expect(transientCode(undefined)).toBeUndefined();
  });
});
