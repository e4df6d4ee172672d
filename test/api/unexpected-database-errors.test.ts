import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { transcriptFactory } from '../../dev/factories';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const development = useApi();
const production = useApi({ production: true });
const db = () => testDatabase().db;

/** Words of the statement and the schema that a response must never carry. */
const sqlWords = /select|from|"transcripts"|transcripts_hidden|relation/i;

describe('a database error no rule translates', () => {
  // The table goes missing under the running app, as a botched deployment would leave it: PostgreSQL responds
  // 42P01 (undefined_table), whose text quotes the statement.
  beforeEach(async () => {
    await transcriptFactory.create();
    await db().raw('ALTER TABLE transcripts RENAME TO transcripts_hidden');
  });
  afterEach(async () => {
    await db().raw('ALTER TABLE transcripts_hidden RENAME TO transcripts');
  });

  it('is a 500 naming its SQLSTATE and quoting no SQL over tRPC, in development and production', async () => {
    const shown = await development.query('transcripts.list', { limit: 1 });
    expect(shown.status).toBe(500);
    expect(shown.error?.message).toBe(
      "an unexpected database error (SQLSTATE 42P01); the server's log has its cause",
    );
    expect(JSON.stringify(shown.error)).not.toMatch(sqlWords);

    const hidden = await production.query('transcripts.list', { limit: 1 });
    expect(hidden.status).toBe(500);
    expect(hidden.error?.message).toBe('Internal server error');
  });

  it('is a 500 naming its SQLSTATE and quoting no SQL over REST, in development and production', async () => {
    const shown = await request(development.app.server).get('/api/transcripts?limit=1');
    expect(shown.status).toBe(500);
    expect(shown.body.message).toMatch(/SQLSTATE 42P01/);
    expect(shown.text).not.toMatch(sqlWords);

    const hidden = await request(production.app.server).get('/api/transcripts?limit=1');
    expect(hidden.status).toBe(500);
    expect(hidden.text).not.toMatch(sqlWords);
  });
});
