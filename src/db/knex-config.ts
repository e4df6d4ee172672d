import path from 'node:path';
import type { Knex } from 'knex';
import pg from 'pg';
import type { Config } from '../config';

const projectRoot = path.resolve(__dirname, '..', '..');

// bigint columns (view counts, count(*)) stay below 2^53, so they arrive as numbers rather than strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

export const migrationsConfig: Knex.MigratorConfig = {
  // MIGRATIONS_DIR points a test run at another copy of the migrations: the SQL mutants patch a copy, never these.
  directory: process.env.MIGRATIONS_DIR ?? path.join(projectRoot, 'migrations'),
  extension: 'ts',
  loadExtensions: ['.ts'],
};

const seedsConfig: Knex.SeederConfig = {
  directory: path.join(projectRoot, 'seeds'),
  extension: 'ts',
  loadExtensions: ['.ts'],
};

type PoolSettings = Pick<Config, 'DATABASE_POOL_SIZE' | 'DATABASE_CONNECT_TIMEOUT_MS' | 'DEBUG'>;

/** One knex configuration for the app, the knex CLI and the tests. */
export function knexConfig(url: string, settings: PoolSettings): Knex.Config {
  return {
    client: 'pg',
    connection: { connectionString: url, connectionTimeoutMillis: settings.DATABASE_CONNECT_TIMEOUT_MS },
    pool: { min: 0, max: settings.DATABASE_POOL_SIZE },
    // A caller waits this long for a free connection, then gets an error instead of hanging.
    acquireConnectionTimeout: settings.DATABASE_CONNECT_TIMEOUT_MS,
    debug: settings.DEBUG,
    migrations: migrationsConfig,
    seeds: seedsConfig,
  };
}
