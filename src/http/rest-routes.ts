import type { AnyProcedure } from '@trpc/server';
import { z } from 'zod';
import type { ApiMeta } from '../api/trpc';

/** Where the REST routes of the procedures are served. */
export const restPrefix = '/api';

/** What a query string's text is read as before the procedure's input check: a list, a number, or left as text. */
export type QueryValueKind = 'array' | 'number';

/** One procedure's REST route, as the server routes it. */
export interface RestOperation {
  /** The procedure's dotted name, `videos.list`. */
  name: string;
  /** Lower case, as in the OpenAPI document: `get`, `post`, ... */
  method: string;
  /** In the document's form, `/videos/{id}`, under `restPrefix`. */
  path: string;
  /** The input properties a query string value is not left as text for. */
  queryKinds: ReadonlyMap<string, QueryValueKind>;
}

/** A router holds its sub-routers and procedures by name, beside `_def` and `createCaller`. */
export function procedureRecord(router: object, prefix = ''): Record<string, AnyProcedure> {
  const record: Record<string, AnyProcedure> = {};
  for (const [key, value] of Object.entries(router)) {
    if (key === '_def' || key === 'createCaller') continue;
    if (typeof value === 'function') record[`${prefix}${key}`] = value as AnyProcedure;
    else if (typeof value === 'object' && value !== null)
      Object.assign(record, procedureRecord(value as object, `${prefix}${key}.`));
  }
  return record;
}

type Schema = { type?: string; anyOf?: Schema[] };

/** The JSON type a property's schema gives its values, under a nullable's `anyOf`. */
const typeOf = (schema: Schema | undefined): string | undefined =>
  schema?.type ?? schema?.anyOf?.find((branch) => branch.type !== 'null')?.type;

function queryKindOf(schema: z.ZodType): QueryValueKind | undefined {
  const type = typeOf(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Schema);
  if (type === 'array') return 'array';
  if (type === 'number' || type === 'integer') return 'number';
  return undefined;
}

/**
 * Every procedure with a REST route (`restRoutes` in its meta), read from the router as trpc-to-openapi reads it
 * for the OpenAPI document (same paths, methods and property types), without loading the generator or building
 * the document, which only a reader of `/openapi.json` or `/docs` needs.
 */
export function restOperations(router: object): RestOperation[] {
  const operations: RestOperation[] = [];
  for (const [name, procedure] of Object.entries(procedureRecord(router))) {
    const definition = procedure._def as unknown as { meta?: ApiMeta; inputs: z.ZodType[] };
    const route = definition.meta?.openapi;
    if (!route || route.enabled === false) continue;
    const method = route.method.toLowerCase();
    const queryKinds = new Map<string, QueryValueKind>();
    if (method === 'get' || method === 'delete') {
      const [first, ...more] = definition.inputs;
      let input = more.reduce<z.ZodType>(
        (merged, next) => (merged as z.ZodObject).merge(next as z.ZodObject),
        first ?? z.object({}),
      );
      if (input instanceof z.ZodOptional) input = input.unwrap() as z.ZodType;
      for (const [key, schema] of Object.entries((input as z.ZodObject).shape)) {
        const kind = queryKindOf(schema);
        if (kind) queryKinds.set(key, kind);
      }
    }
    operations.push({ name, method, path: `/${route.path.replace(/^\/|\/$/g, '')}`, queryKinds });
  }
  return operations;
}
