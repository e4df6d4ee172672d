import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Knex } from 'knex';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';

const tables = ['channels', 'processing_sessions', 'videos', 'transcripts', 'processing_jobs'];

async function withClient<T>(db: Knex, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = (await db.client.acquireConnection()) as pg.PoolClient;
  try {
    return await work(client);
  } finally {
    await db.client.releaseConnection(client);
  }
}

/**
 * The seeding baseline: the same rows, already generated (dumped from the seeded database), loaded with
 * COPY FROM STDIN into an empty copy of the schema in one transaction. Only the load is timed.
 */
export async function copyBaseline(
  source: Knex,
  target: Knex,
): Promise<{ rows: number; seconds: number; megabytes: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tubesensei-copy-'));
  try {
    let bytes = 0;
    await withClient(source, async (client) => {
      for (const table of tables) {
        const file = path.join(dir, `${table}.copy`);
        await pipeline(client.query(copyTo(`COPY ${table} TO STDOUT`)), createWriteStream(file));
        bytes += (await stat(file)).size;
      }
    });
    const started = performance.now();
    const rows = await withClient(target, async (client) => {
      let count = 0;
      await client.query('BEGIN');
      for (const table of tables) {
        const stream = client.query(copyFrom(`COPY ${table} FROM STDIN`));
        await pipeline(createReadStream(path.join(dir, `${table}.copy`)), stream);
        count += Number(stream.rowCount);
      }
      await client.query('COMMIT');
      return count;
    });
    return { rows, seconds: (performance.now() - started) / 1_000, megabytes: bytes / 1_048_576 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
