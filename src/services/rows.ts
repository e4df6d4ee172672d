import type { Knex } from 'knex';
import type { Model, PartialModelObject, QueryBuilder } from 'objection';
import { NotFoundError } from './errors';
import { retryLostRaces } from './lost-races';

/** A relation expression such as `[channel, transcripts]` from an allow-listed include list. */
export const graphOf = (include: readonly string[] | undefined) =>
  include && include.length > 0 ? `[${[...new Set(include)].join(', ')}]` : undefined;

/**
 * The one-row operations every entity shares, on the database each call is given: found or NotFoundError, and
 * writes run again when they lose a race.
 */
export function rowsOf<M extends Model>(query: (db: Knex) => QueryBuilder<M, M[]>, entity: string) {
  return {
    async find(db: Knex, id: string, include?: readonly string[]): Promise<M> {
      const byId = query(db).findById(id);
      const graph = graphOf(include);
      const row = await (graph ? byId.withGraphFetched(graph) : byId);
      if (!row) throw new NotFoundError(entity, id);
      return row;
    },

    insert(db: Knex, attrs: PartialModelObject<M>): Promise<M> {
      // Objection validates while building the query, so a rejection is thrown from inside the retried work; the cast
      // keeps TypeScript from expanding objection's generic overloads without end.
      return retryLostRaces(
        () =>
          query(db)
            .insert(attrs as never)
            .returning('*') as unknown as PromiseLike<M>,
      );
    },

    async patch(db: Knex, id: string, patch: PartialModelObject<M>): Promise<M> {
      if (Object.keys(patch).length === 0) return this.find(db, id);
      const row = await retryLostRaces(() => query(db).patchAndFetchById(id, patch));
      if (!row) throw new NotFoundError(entity, id);
      return row;
    },

    async remove(db: Knex, id: string): Promise<M> {
      const [row] = await retryLostRaces(() => query(db).where('id', id).delete().returning('*'));
      if (!row) throw new NotFoundError(entity, id);
      return row;
    },
  };
}
