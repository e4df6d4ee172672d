import type { Model, ModelObject, QueryBuilder } from 'objection';
import type { Page } from '../schemas/pagination';
import { InvalidInputError } from './errors';
import { graphOf } from './rows';

/**
 * Keyset pagination, newest first: rows are ordered by `(sortKey DESC, id DESC)` and a cursor holds the last
 * row's pair, so each page is an index range scan (no OFFSET) and a deleted cursor row loses nothing.
 */
export interface KeysetOptions<M> {
  /** SQL of the sort key, matching the index the list uses (for example `created_at`). */
  sortKey: string;
  /** The sort key's value on a row, as text PostgreSQL reads back as a timestamptz. */
  sortValue: (row: M) => string;
  /** The id column, qualified when the query joins. */
  idColumn: string;
  limit: number;
  cursor?: string | undefined;
}

interface CursorPosition {
  sort: string;
  id: string;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isoInstant = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const isIsoInstant = (text: string) =>
  isoInstant.test(text) && !Number.isNaN(Date.parse(text)) && new Date(text).toISOString() === text;

function encodeCursor(position: CursorPosition): string {
  return Buffer.from(JSON.stringify([position.sort, position.id])).toString('base64url');
}

function decodeCursor(cursor: string): CursorPosition {
  try {
    const [sort, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // Only the forms `encodeCursor` writes: anything looser may read in JavaScript and not in PostgreSQL.
    const validSort = typeof sort === 'string' && (sort === '-infinity' || isIsoInstant(sort));
    if (validSort && typeof id === 'string' && uuidPattern.test(id)) return { sort, id };
  } catch {
    // Falls through to the error below: a cursor we did not issue.
  }
  throw new InvalidInputError('cursor is not one this API issued', 'cursor');
}

/** Narrows a query to one page's range: past the cursor, in key order, and one row more than the page. */
export function keysetRange<M extends Model>(
  query: QueryBuilder<M, M[]>,
  options: Omit<KeysetOptions<M>, 'sortValue'>,
): QueryBuilder<M, M[]> {
  if (options.cursor !== undefined) {
    const { sort, id } = decodeCursor(options.cursor);
    query.whereRaw(`(${options.sortKey}, ${options.idColumn}) < (?::timestamptz, ?::uuid)`, [sort, id]);
  }
  return query.orderByRaw(`${options.sortKey} DESC, ${options.idColumn} DESC`).limit(options.limit + 1);
}

export async function keysetPage<M extends Model>(
  query: QueryBuilder<M, M[]>,
  options: KeysetOptions<M>,
): Promise<Page<M>> {
  const rows = await keysetRange(query, options);
  const items = rows.slice(0, options.limit);
  const last = items.at(-1);
  const nextCursor =
    rows.length > options.limit && last
      ? encodeCursor({ sort: options.sortValue(last), id: last.$id() as string })
      : null;
  return { items, nextCursor };
}

export interface NewestFirstInput {
  limit: number;
  cursor?: string | undefined;
  include?: readonly string[] | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
}

/**
 * A page of a list ordered by creation, newest first, over a `(…, created_at DESC, id DESC)` index: applies the
 * creation-time range and the allow-listed includes. The rows are returned as the models read them: the response
 * writer reads their columns and relations, so no copy into plain objects is made.
 */
export async function newestFirst<M extends Model>(
  query: QueryBuilder<M, M[]>,
  input: NewestFirstInput,
): Promise<Page<ModelObject<M>>> {
  if (input.createdAfter) query.where('created_at', '>=', input.createdAfter);
  if (input.createdBefore) query.where('created_at', '<', input.createdBefore);
  const graph = graphOf(input.include);
  if (graph) query.withGraphFetched(graph);
  return keysetPage(query, {
    sortKey: 'created_at',
    sortValue: (row) => (row as M & { createdAt: Date }).createdAt.toISOString(),
    idColumn: 'id',
    limit: input.limit,
    cursor: input.cursor,
  });
}
