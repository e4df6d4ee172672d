import type { AnyProcedure } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import type { z } from 'zod';
import { appRouter } from './router';

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
  route: OpenApiMeta['openapi'];
  /** Its first input schema (our procedures have one, a zod object, optional when it takes no arguments). */
  input: z.ZodObject | z.ZodOptional<z.ZodObject>;
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
      route: (procedure._def.meta as OpenApiMeta | undefined)?.openapi,
      input: procedure._def.inputs[0] as ProcedureEntry['input'],
    },
  ]),
);

// `_def._config`: the transformer and error formatter `initTRPC.create()` was given, which tRPC's exported helpers
// (`getTRPCErrorShape`, `transformTRPCResponse`) take as an argument.
export const routerConfig = appRouter._def._config;

/** The zod kind under optional, default and nullable wrappers: what a query string has to become. */
export function kindOf(schema: z.core.$ZodType): string {
  // `_zod.def`: zod 4's description of a schema; its `type` names the kind and wrappers keep `innerType`.
  let def = schema._zod.def;
  while (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') {
    def = (def as z.core.$ZodOptionalDef).innerType._zod.def;
  }
  return def.type;
}
