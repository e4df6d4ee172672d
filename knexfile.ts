import type { Knex } from 'knex';
import { loadConfig } from './src/config';
import { knexConfig } from './src/db/knex-config';
import { provisionDatabase } from './src/db/provision';

/**
 * The knex CLI's configuration: `DATABASE_URL` when set, otherwise the project's embedded PostgreSQL, started
 * for the command (or joined, when `npm start` already runs it) and stopped when the command exits.
 */
export default async function knexfile(): Promise<Knex.Config> {
  const config = loadConfig();
  const database = await provisionDatabase(config);
  return knexConfig(database.url, config);
}
