import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { describe, expect, it } from 'vitest';
import { copyLine } from '../../dev/seeding/copy-format';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

/** Values that need every escape of the COPY text format, and of a text[] literal inside it. */
const awkward = [
  'back\\slash',
  'ends in a backslash\\',
  'a "quoted" word',
  'tab\there',
  'two\nlines',
  'cr\rhere',
  'a, comma',
  '{braces}',
  'NULL',
  '',
  '  spaces at the edges  ',
];

describe('the seed’s COPY lines', () => {
  it('bring every value back unchanged through PostgreSQL’s COPY: texts, tags, JSON, times, numbers and nulls', async () => {
    const rows = [
      ...awkward.map((text, index) => [
        text,
        [text, 'plain'],
        { text, list: [text] },
        new Date(index * 1_000),
        index,
        true,
      ]),
      ['', [], {}, new Date('2026-03-29T01:30:00Z'), -1.5, false],
      [null, null, null, null, null, null],
    ];
    const client = (await db().client.acquireConnection()) as pg.PoolClient;
    try {
      await client.query(
        'CREATE TEMP TABLE copied (n serial, text text, tags text[], data jsonb, at timestamptz, number float8, flag boolean)',
      );
      await pipeline(
        Readable.from([rows.map(copyLine).join('')]),
        client.query(copyFrom('COPY copied (text, tags, data, at, number, flag) FROM STDIN')),
      );
      const { rows: copied } = await client.query<Record<string, unknown>>(
        'SELECT text, tags, data, at, number, flag FROM copied ORDER BY n',
      );
      expect(copied.map((row) => Object.values(row))).toEqual(rows);
    } finally {
      await client.query('DROP TABLE IF EXISTS copied');
      await db().client.releaseConnection(client);
    }
  });
});
