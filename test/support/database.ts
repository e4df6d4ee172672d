import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import pg from 'pg';
import { inject } from 'vitest';
import { connect } from '../../src/db/connect';
import { useFactoryDatabase } from '../../dev/factories/database';
import { ensureDatabase } from '../../src/db/provision';

/** Settings the tests connect with: a small pool, and a short wait so a broken test fails instead of hanging. */
export const testPoolSettings = { DATABASE_POOL_SIZE: 10, DATABASE_CONNECT_TIMEOUT_MS: 10_000, DEBUG: false };

let current: { db: Knex; name: string; url: string } | undefined;

/** The database of the running test file: a fresh copy of the migrated template. */
export function testDatabase(): { db: Knex; url: string } {
  if (!current) throw new Error('The test database is not ready: use it inside a test or hook');
  return current;
}

/** Creates a database copied from the migrated template and returns its URL. */
export async function createDatabaseFromTemplate(
  prefix = 'tubesensei_test',
): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const url = await ensureDatabase(inject('serverUrl'), name, inject('templateDatabase'));
  return { name, url };
}

export async function dropDatabase(name: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('serverUrl') });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
  await client.end();
}

/** Gives the running test file its database: registered for every file by `database-hooks.ts`. */
export async function openTestDatabase(): Promise<void> {
  const created = await createDatabaseFromTemplate();
  current = { db: connect(created.url, testPoolSettings), ...created };
  useFactoryDatabase(current.db);
}

export async function closeTestDatabase(): Promise<void> {
  if (!current) return;
  const { db, name } = current;
  current = undefined;
  useFactoryDatabase(undefined);
  await db.destroy();
  await dropDatabase(name);
}
