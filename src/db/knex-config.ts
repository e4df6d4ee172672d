import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Knex } from 'knex';
import pg from 'pg';
import type { Config } from '../config';

/** `.ts` when this module runs from the sources (tsx, vitest), `.js` when it runs compiled from dist/. */
const ownExtension = path.extname(__filename);
/** The checkout, or dist/ once compiled: where migrations/ and seeds/ sit beside src/. */
const projectRoot = path.resolve(__dirname, '..', '..');

// bigint columns (view counts, count(*)) stay below 2^53, so they arrive as numbers rather than strings.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

/**
 * The compiled migrations, recorded in knex_migrations under the names of their TypeScript sources: a database
 * migrated from the sources (`npx knex migrate:latest`) and one migrated by the compiled server agree on what has
 * run, in both directions.
 */
export class CompiledMigrations implements Knex.MigrationSource<string> {
  constructor(private readonly directory: string) {}

  async getMigrations(): Promise<string[]> {
    return (await readdir(this.directory)).filter((file) => file.endsWith('.js')).sort();
  }

  getMigrationName(file: string): string {
    return `${path.basename(file, '.js')}.ts`;
  }

  async getMigration(file: string): Promise<Knex.Migration> {
    return (await import(pathToFileURL(path.join(this.directory, file)).href)) as Knex.Migration;
  }
}

// MIGRATIONS_DIR points a test run at another copy of the migrations: the SQL mutants patch a copy, never these.
const migrationsDirectory = process.env.MIGRATIONS_DIR ?? path.join(projectRoot, 'migrations');

export const migrationsConfig: Knex.MigratorConfig =
  ownExtension === '.js'
    ? { migrationSource: new CompiledMigrations(migrationsDirectory) }
    : { directory: migrationsDirectory, extension: 'ts', loadExtensions: ['.ts'] };

const seedsConfig: Knex.SeederConfig = {
  directory: path.join(projectRoot, 'seeds'),
  extension: ownExtension.slice(1),
  loadExtensions: [ownExtension],
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
