import type { Knex } from 'knex';

/*
 * Shared machinery for every table: `updated_at` is kept by the database itself, so a raw SQL UPDATE bumps it
 * as surely as the application does (unless the UPDATE sets it explicitly); pg_trgm backs case-insensitive substring search on titles and names.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm');
  await knex.raw(`
    CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- An UPDATE that sets updated_at itself (a data import, a replayed seed) keeps its value.
      IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := now();
      END IF;
      RETURN NEW;
    END
    $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP FUNCTION set_updated_at()');
  await knex.raw('DROP EXTENSION IF EXISTS pg_trgm');
}
