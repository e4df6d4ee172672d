import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import pg from 'pg';
import { register as registerTypeScript } from 'tsx/cjs/api';
import type { TestProject } from 'vitest/node';
import { migrationsConfig } from '../../src/db/knex-config';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { ensureDatabase } from '../../src/db/provision';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the server's maintenance database, where test databases are created. */
    serverUrl: string;
    /** A migrated database that each test file copies (CREATE DATABASE ... TEMPLATE). */
    templateDatabase: string;
  }
}

/**
 * Migrates one template database per run; each test file then gets its own copy. Uses `DATABASE_URL`'s server
 * when set, otherwise a throwaway embedded PostgreSQL.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'tubesensei-test-'));
  const embedded = process.env.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dataDir: path.join(tmp, 'pgdata'), persistent: false });
  const serverUrl = embedded?.url ?? process.env.DATABASE_URL!;
  const templateDatabase = `tubesensei_template_${randomBytes(4).toString('hex')}`;

  const templateUrl = await ensureDatabase(serverUrl, templateDatabase);
  // knex loads the TypeScript migrations with require(), outside Vite's transform.
  const unregister = registerTypeScript();
  const migrator = knex({ client: 'pg', connection: templateUrl, migrations: migrationsConfig });
  try {
    await migrator.migrate.latest();
  } finally {
    await migrator.destroy();
    unregister();
  }

  project.provide('serverUrl', serverUrl);
  project.provide('templateDatabase', templateDatabase);

  return async () => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(templateDatabase)} WITH (FORCE)`);
    await client.end();
    await embedded?.stop();
    await rm(tmp, { recursive: true, force: true });
  };
}
