import { snakeCaseMappers } from 'objection';

/**
 * The one mapping between properties (camelCase) and columns (snake_case): the models use it, and so do the raw
 * queries, the bulk seed and the error messages that name a column's field.
 */
export const columnNameMappers = snakeCaseMappers();

/** An object's properties as columns, for a raw insert or update. */
export const toColumns = (properties: Record<string, unknown>): Record<string, unknown> =>
  columnNameMappers.format(properties);

/** A row's columns as properties. */
export const fromColumns = (row: Record<string, unknown>): Record<string, unknown> =>
  columnNameMappers.parse(row);

export const columnOf = (property: string): string => Object.keys(toColumns({ [property]: null }))[0]!;
export const propertyOf = (column: string): string => Object.keys(fromColumns({ [column]: null }))[0]!;
