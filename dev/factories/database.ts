import type { Knex } from 'knex';

let database: Knex | undefined;

/**
 * Points `create()` and `createList()` at a database: the test file's, or the one a script fills. The factories
 * are the one part that keeps a database of its own; the API passes its database with every call.
 */
export function useFactoryDatabase(db: Knex | undefined): void {
  database = db;
}

/** The database factories write to; an error until `useFactoryDatabase` has named one. */
export function factoryDatabase(): Knex {
  if (!database) throw new Error('the factories have no database: call useFactoryDatabase(db) first');
  return database;
}
