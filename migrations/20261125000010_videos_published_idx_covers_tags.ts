import type { Knex } from 'knex';

/*
 * `videos.list` by tag walks the published-order index and, until a page of matches is found, reads each video's
 * tags from the table: a rare tag costs thousands of random heap reads. With the tags (and `published_at`, which the
 * index's expression is built from) carried in the index, the walk is an index-only scan and only the page's own
 * rows are read from the table.
 *
 * Built concurrently, so a live table stays writable; CONCURRENTLY cannot run inside a transaction, so each step
 * is written to be run again after a failure part way.
 */
export const config = { transaction: false };

const rebuild = async (knex: Knex, include: string) => {
  await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS videos_published_next_idx');
  await knex.raw(`
    CREATE INDEX CONCURRENTLY videos_published_next_idx
      ON videos ((COALESCE(published_at, '-infinity')) DESC, id DESC) ${include}`);
  await knex.raw('DROP INDEX CONCURRENTLY IF EXISTS videos_published_idx');
  await knex.raw('ALTER INDEX videos_published_next_idx RENAME TO videos_published_idx');
};

export async function up(knex: Knex): Promise<void> {
  await rebuild(knex, 'INCLUDE (published_at, tags)');
}

export async function down(knex: Knex): Promise<void> {
  await rebuild(knex, '');
}
