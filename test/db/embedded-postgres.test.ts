import { existsSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { provisionDatabase } from '../../src/db/provision';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'tubesensei-embedded-'));
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function serverVersion(url: string): Promise<string> {
  const client = new pg.Client(url);
  await client.connect();
  const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
  await client.end();
  return rows[0]!.server_version;
}

describe('the embedded PostgreSQL', () => {
  it('starts a real server, lets a second process join it, and deletes a throwaway cluster when stopped', async () => {
    const dataDir = path.join(tmp, 'throwaway');
    const server = await startEmbeddedPostgres({ dataDir, persistent: false });
    expect(server.owned).toBe(true);
    expect(await serverVersion(server.url)).toMatch(/^\d+/);

    const joined = await startEmbeddedPostgres({ dataDir, persistent: false });
    expect(joined).toMatchObject({ owned: false, url: server.url });
    await joined.stop();
    expect(await serverVersion(server.url)).toMatch(/^\d+/);

    await server.stop();
    expect(existsSync(dataDir)).toBe(false);
  });

  it('keeps a persistent cluster’s data across restarts, even past a stale lock left by a killed server', async () => {
    const config = parseConfig({ EMBEDDED_POSTGRES_DIR: path.join(tmp, 'persistent') });
    const first = await provisionDatabase(config);
    expect(first.source).toBe('embedded');
    const client = new pg.Client(first.url);
    await client.connect();
    await client.query('CREATE TABLE kept (value text); INSERT INTO kept VALUES ($$still here$$)');
    await client.end();
    await first.stop();

    await writeFile(path.join(config.EMBEDDED_POSTGRES_DIR, 'postmaster.pid'), '999999\n/x\n0\n5999\n');
    const second = await provisionDatabase(config);
    const again = new pg.Client(second.url);
    await again.connect();
    const { rows } = await again.query('SELECT value FROM kept');
    await again.end();
    await second.stop();
    expect(rows).toEqual([{ value: 'still here' }]);
  });

  it('uses DATABASE_URL as given when it is set', async () => {
    const url = 'postgres://someone@db.example:5432/tubesensei';
    const database = await provisionDatabase(parseConfig({ DATABASE_URL: url }));
    expect(database).toMatchObject({ url, source: 'DATABASE_URL' });
    await database.stop();
  });
});
