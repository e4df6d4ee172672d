import path from 'node:path';
import pg from 'pg';
import type { Config } from '../config';
import { startEmbeddedPostgres } from './embedded-postgres';

export interface ProvisionedDatabase {
  /** URL of the application's database. */
  url: string;
  /** Where it came from, for the start-up banner. */
  source: 'DATABASE_URL' | 'embedded';
  /** Stops the embedded server if this process started it; a no-op for DATABASE_URL. */
  stop(): Promise<void>;
}

const embeddedDatabaseName = 'tubesensei';

/** Creates a database on a server unless it exists; CREATE DATABASE cannot run inside IF NOT EXISTS. */
export async function ensureDatabase(serverUrl: string, name: string, template?: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) {
      const from = template ? ` TEMPLATE ${client.escapeIdentifier(template)}` : '';
      await client
        .query(`CREATE DATABASE ${client.escapeIdentifier(name)}${from}`)
        .catch((error: unknown) => {
          // Another process may have created it between our check and our CREATE.
          if ((error as { code?: string }).code !== '42P04') throw error;
        });
    }
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** `DATABASE_URL` when set; otherwise a persistent embedded PostgreSQL in `EMBEDDED_POSTGRES_DIR`. */
export async function provisionDatabase(config: Config): Promise<ProvisionedDatabase> {
  if (config.DATABASE_URL) {
    return { url: config.DATABASE_URL, source: 'DATABASE_URL', stop: async () => undefined };
  }
  const server = await startEmbeddedPostgres({
    dataDir: path.resolve(config.EMBEDDED_POSTGRES_DIR),
    persistent: true,
  });
  const url = await ensureDatabase(server.url, embeddedDatabaseName);
  return { url, source: 'embedded', stop: () => server.stop() };
}
