import type { AnyProcedure } from '@trpc/server';
import type { z } from 'zod';
import type { Access } from './access';
import { appRouter } from './router';
import type { ApiMeta } from './trpc';

/*
 * Every read of a library's internals, in one place. The fast tRPC path (`fastify-handler.ts`) and the REST
 * adapter (`rest-handler.ts`) need what tRPC keeps under `_def`, and the REST adapter what zod keeps under `_zod`.
 * These libraries are pinned to patch ranges in package.json; after an upgrade, the equivalence tests
 * (test/api/trpc-protocol.test.ts against tRPC's own handler, test/api/transformer.test.ts against superjson,
 * test/api/rest.test.ts for the REST routes) say whether these reads still hold.
 */

/** What the handlers need of one procedure. */
export interface ProcedureEntry {
  procedure: AnyProcedure;
  type: 'query' | 'mutation' | 'subscription';
  /** Its REST route, from the `openapi` meta that trpc-to-openapi reads too. */
  route: ApiMeta['openapi'];
  /** Who may call it, from its meta. */
  access: Access | undefined;
  /** Its first input schema (our procedures have one, a zod object, optional when it takes no arguments). */
  input: z.ZodObject | z.ZodOptional<z.ZodObject>;
  /** Its response schema. */
  output: z.ZodType;
}

// `_def.procedures`: the router's procedures by dotted name (tRPC builds it; there is no public accessor).
const procedureDefs = appRouter._def.procedures as unknown as Record<string, AnyProcedure>;

/** The router's procedures by name, read once. */
export const procedureTable: ReadonlyMap<string, ProcedureEntry> = new Map(
  Object.entries(procedureDefs).map(([name, procedure]) => [
    name,
    {
      procedure,
      // `_def.type`, `_def.meta`, `_def.inputs`: what the procedure builder recorded.
      type: procedure._def.type,
      route: (procedure._def.meta as ApiMeta | undefined)?.openapi,
      access: (procedure._def.meta as ApiMeta | undefined)?.access,
      input: procedure._def.inputs[0] as ProcedureEntry['input'],
      // `_def.output`: the schema `.output()` was given, which trpc-to-openapi reads too.
      output: (procedure._def as unknown as { output: z.ZodType }).output,
    },
  ]),
);

type Middleware = ((...args: never[]) => unknown) & { _type?: string };
const replaced = Symbol('answer check');

/**
 * Puts `check(schema)` where tRPC's `.output(schema)` put its own check, on every procedure; a second call changes
 * nothing. `_def.middlewares` is the array tRPC calls a procedure's middlewares from, in place, and marks the
 * output check `_type: 'output'`; `_def.output` keeps the schema, where trpc-to-openapi and the types read it.
 */
export function replaceOutputChecks(check: (schema: z.ZodType) => Middleware): void {
  for (const { procedure } of procedureTable.values()) {
    const def = procedure._def as unknown as { output: z.ZodType; middlewares: Middleware[] };
    const index = def.middlewares.findIndex((middleware) => middleware._type === 'output');
    if (index < 0 || replaced in def.middlewares[index]!) continue;
    def.middlewares[index] = Object.assign(check(def.output), { _type: 'output', [replaced]: true });
  }
}

// `_def._config`: the transformer and error formatter `initTRPC.create()` was given, which tRPC's exported helpers
// (`getTRPCErrorShape`, `transformTRPCResponse`) take as an argument.
export const routerConfig = appRouter._def._config;

/** What the answer writer needs to know of a zod schema: its kind and the schemas inside it. */
export type SchemaNode =
  | { kind: 'string' | 'number'; checked: boolean }
  | { kind: 'boolean' | 'null' | 'date' | 'unknown' | 'other' }
  | { kind: 'values'; values: readonly unknown[] }
  | { kind: 'nullable' | 'optional' | 'nonoptional' | 'same'; inner: () => z.core.$ZodType }
  | { kind: 'array'; element: z.core.$ZodType }
  | { kind: 'object'; shape: Record<string, z.core.$ZodType>; catchall: z.core.$ZodType | undefined }
  | { kind: 'record'; value: z.core.$ZodType }
  | { kind: 'union'; options: readonly z.core.$ZodType[] };

/**
 * A zod schema as a `SchemaNode`, read from `_zod.def` (zod 4's description of a schema: `type` names the kind,
 * wrappers keep `innerType`, `lazy` a `getter`, `pipe` its ends `in` and `out`, strings and numbers their
 * `checks`, a string format its `format`).
 */
export function schemaNode(schema: z.core.$ZodType): SchemaNode {
  const def = schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
  switch (def.type) {
    case 'string':
    case 'number':
      return {
        kind: def.type,
        checked: Boolean((def.checks as unknown[] | undefined)?.length) || def.format !== undefined,
      };
    case 'boolean':
    case 'null':
    case 'date':
      return { kind: def.type };
    case 'unknown':
    case 'any':
      return { kind: 'unknown' };
    case 'literal':
      return { kind: 'values', values: def.values as unknown[] };
    case 'enum':
      return { kind: 'values', values: Object.values(def.entries as Record<string, unknown>) };
    case 'nullable':
    case 'optional':
    case 'nonoptional':
      return { kind: def.type, inner: () => def.innerType as z.core.$ZodType };
    case 'default':
    case 'prefault':
    case 'catch':
    case 'readonly':
      return { kind: 'same', inner: () => def.innerType as z.core.$ZodType };
    case 'lazy':
      return { kind: 'same', inner: def.getter as () => z.core.$ZodType };
    // What a pipe answers is what it ends in: a timestamp field reads text or a date, and is a date.
    case 'pipe':
      return { kind: 'same', inner: () => def.out as z.core.$ZodType };
    case 'array':
      return { kind: 'array', element: def.element as z.core.$ZodType };
    case 'object': {
      const { shape, catchall } = def as unknown as z.core.$ZodObjectDef;
      return { kind: 'object', shape, catchall: catchall?._zod.def.type === 'never' ? undefined : catchall };
    }
    case 'record':
      return { kind: 'record', value: def.valueType as z.core.$ZodType };
    case 'union':
      return { kind: 'union', options: def.options as z.core.$ZodType[] };
    default:
      return { kind: 'other' };
  }
}

/** The zod kind under optional, default and nullable wrappers: what a query string has to become. */
export function kindOf(schema: z.core.$ZodType): string {
  // `_zod.def`: zod 4's description of a schema; its `type` names the kind and wrappers keep `innerType`.
  let def = schema._zod.def;
  while (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') {
    def = (def as z.core.$ZodOptionalDef).innerType._zod.def;
  }
  return def.type;
}
