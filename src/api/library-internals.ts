import type { AnyProcedure } from '@trpc/server';
import type { z } from 'zod';
import type { Access } from './access';
import { appRouter } from './router';
import type { ApiMeta } from './trpc';

/*
 * Every read of a library's internals, in one place: the OpenAPI document completes each operation from its
 * procedure's access and schemas, which tRPC keeps under `_def`. test/api/library-internals.test.ts says whether
 * these reads still hold after an upgrade.
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
