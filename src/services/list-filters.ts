import type { Model, QueryBuilder } from 'objection';

/** Escapes LIKE's wildcards so a search for "50%" finds that text, not everything after "50". */
export const likePattern = (text: string) => `%${text.replace(/[\\%_]/g, '\\$&')}%`;

/** Applies the creation-time range every list offers. */
export function whereCreatedBetween<M extends Model>(
  query: QueryBuilder<M, M[]>,
  column: string,
  range: { createdAfter?: Date | undefined; createdBefore?: Date | undefined },
): QueryBuilder<M, M[]> {
  if (range.createdAfter) query.where(column, '>=', range.createdAfter);
  if (range.createdBefore) query.where(column, '<', range.createdBefore);
  return query;
}

/** The sort key of lists ordered by creation, as text that keeps its precision in a cursor. */
export const createdAtKey = (row: { createdAt: Date }) => row.createdAt.toISOString();
