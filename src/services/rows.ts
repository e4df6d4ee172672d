import type { Knex } from 'knex';
import type { Model, PartialModelObject, QueryBuilder } from 'objection';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  transientAttempts,
  transientCode,
  transientRetries,
  translateDatabaseError,
} from './database-errors';
import { NotFoundError } from './errors';

/**
 * Runs database work and rethrows its failures as domain errors. Work that lost a race (a deadlock, a
 * serialization failure, a lock timeout) is run again from the start, up to `transientAttempts` times with a
 * growing, jittered pause, so concurrent writers see a result instead of an error; `work` must therefore build
 * its queries (and its transaction) itself. What still fails answers 503 with `Retry-After`.
 */
export async function withDatabaseErrors<T>(work: () => PromiseLike<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      const transient = transientCode(error);
      if (transient === undefined || attempt >= transientAttempts) throw translateDatabaseError(error);
      transientRetries.set(transient, (transientRetries.get(transient) ?? 0) + 1);
      await sleep(Math.random() * 10 * 2 ** attempt);
    }
  }
}

/** A relation expression such as `[channel, transcripts]` from an allow-listed include list. */
export const graphOf = (include: readonly string[] | undefined) =>
  include && include.length > 0 ? `[${[...new Set(include)].join(', ')}]` : undefined;

/**
 * The one-row operations every entity shares, on the database each call is given: found or NotFoundError, and
 * database errors translated.
 */
export function rowsOf<M extends Model>(query: (db: Knex) => QueryBuilder<M, M[]>, entity: string) {
  return {
    async find(db: Knex, id: string, include?: readonly string[]): Promise<M> {
      const byId = query(db).findById(id);
      const graph = graphOf(include);
      const row = await withDatabaseErrors(() => (graph ? byId.withGraphFetched(graph) : byId));
      if (!row) throw new NotFoundError(entity, id);
      return row;
    },

    insert(db: Knex, attrs: PartialModelObject<M>): Promise<M> {
      // Objection validates while building the query, so the builder is made inside the error translation;
      // the cast keeps TypeScript from expanding objection's generic overloads without end.
      return withDatabaseErrors(
        () =>
          query(db)
            .insert(attrs as never)
            .returning('*') as unknown as PromiseLike<M>,
      );
    },

    async patch(db: Knex, id: string, patch: PartialModelObject<M>): Promise<M> {
      if (Object.keys(patch).length === 0) return this.find(db, id);
      const row = await withDatabaseErrors(() => query(db).patchAndFetchById(id, patch));
      if (!row) throw new NotFoundError(entity, id);
      return row;
    },

    async remove(db: Knex, id: string): Promise<M> {
      const [row] = await withDatabaseErrors(() => query(db).where('id', id).delete().returning('*'));
      if (!row) throw new NotFoundError(entity, id);
      return row;
    },
  };
}
