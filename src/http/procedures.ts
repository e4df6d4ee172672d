import { forEachOpenApiProcedure, getInputOutputParsers, type OpenApiProcedureRecord } from 'trpc-to-openapi';
import type { z } from 'zod';
import type { Access } from '../api/access';
import { appRouter } from '../api/router';
import type { ApiMeta } from '../api/trpc';

/** What the OpenAPI document and its tests need of one procedure with a REST route. */
export interface ProcedureEntry {
  type: 'query' | 'mutation' | 'subscription';
  route: NonNullable<ApiMeta['openapi']>;
  /** Who may call it. */
  access: Access | undefined;
  /** Its input schema: a zod object, optional when it takes no arguments. */
  input: z.ZodObject | z.ZodOptional<z.ZodObject>;
  /** Its response schema (every procedure states one). */
  output: z.ZodType;
}

/** A router holds its sub-routers and procedures by name, beside `_def` and `createCaller`. */
function procedureRecord(router: object, prefix = ''): OpenApiProcedureRecord {
  const record: OpenApiProcedureRecord = {};
  for (const [key, value] of Object.entries(router)) {
    if (key === '_def' || key === 'createCaller') continue;
    if (typeof value === 'function') record[`${prefix}${key}`] = value as OpenApiProcedureRecord[string];
    else if (typeof value === 'object' && value !== null)
      Object.assign(record, procedureRecord(value as object, `${prefix}${key}.`));
  }
  return record;
}

/** The router's procedures with a REST route, by dotted name, as trpc-to-openapi reads them. */
export const restProcedures: ReadonlyMap<string, ProcedureEntry> = (() => {
  const table = new Map<string, ProcedureEntry>();
  forEachOpenApiProcedure<ApiMeta>(procedureRecord(appRouter), ({ path, type, procedure, meta }) => {
    const { inputParser, outputParser } = getInputOutputParsers(procedure);
    table.set(path, {
      type,
      route: meta.openapi,
      access: meta.access,
      input: inputParser as unknown as ProcedureEntry['input'],
      output: outputParser as unknown as z.ZodType,
    });
  });
  return table;
})();
