import { initTRPC, TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import superjson, { type SuperJSONResult } from 'superjson';
import type { OpenApiMeta, OpenApiMethod } from 'trpc-to-openapi';
import { type Access, grants, roleOf, rolesFor, unauthenticatedMessage } from './access';
import type { Context } from './context';
import { toTRPCError } from './error-mapping';
import { describeError } from './error-shape';
import { rejectNul, rejectReservedKeys, rejectTooDeep } from './raw-input';
import { responseDates } from './wire-format';

/**
 * Inputs in superjson, each checked as JSON left it first: superjson walks it recursively, and drops a `__proto__`
 * key without a word. Responses carry their dates as `responseDates` writes them.
 */
const transformer = {
  input: {
    serialize: (value: unknown) => superjson.serialize(value),
    deserialize: (payload: SuperJSONResult) => {
      const json = (payload as Partial<SuperJSONResult> | null)?.json;
      rejectTooDeep(json);
      rejectReservedKeys(json);
      return superjson.deserialize(payload);
    },
  },
  output: responseDates,
};

const t = initTRPC
  .context<Context>()
  .meta<ApiMeta>()
  .create({
    transformer,
    errorFormatter({ shape, error, ctx }) {
      const { message, field, issues } = describeError(error, ctx?.production ?? false);
      return {
        ...shape,
        message,
        data: {
          code: shape.data.code,
          httpStatus: shape.data.httpStatus,
          path: shape.data.path,
          ...(ctx?.production ? {} : { stack: shape.data.stack }),
          field,
          issues,
        },
      };
    },
  });

export const router = t.router;

/** One namespace from several router files, so a namespace's procedures can grow in files of their own. */
export const mergeRouters = t.mergeRouters;

/** A procedure's REST route (for the OpenAPI document) and who may call it. */
export type ApiMeta = OpenApiMeta & { access?: Access };

/**
 * Publishes a procedure at a REST path as well as at `/trpc/<name>`, and so in the OpenAPI document, filed under
 * its router's tag, and says who may call it: reads are open to every role, writes to admins unless `access`
 * says otherwise.
 */
export const restRoutes =
  (tag: string) =>
  (
    method: OpenApiMethod,
    path: `/${string}`,
    summary: string,
    access: Access = method === 'GET' ? 'read' : 'admin',
  ): ApiMeta => ({
    access,
    openapi: { method, path, tags: [tag], summary, description: `Roles: ${rolesFor(access).join(', ')}.` },
  });

/** Turns the services' domain errors into tRPC errors a client can act on. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toTRPCError(result.error);
  return result;
});

/**
 * With tokens configured, every procedure needs a bearer token whose role grants the procedure's access (403
 * otherwise), before its input is even read. Over HTTP a request without a token it knows is rejected with 401 before
 * its body is read (see `authenticated`); the check here holds for any other way a call arrives.
 */
const requireRole = t.middleware(({ ctx, meta, next }) => {
  if (ctx.tokens.length === 0) return next();
  const role = roleOf(ctx.authorization, ctx.tokens);
  if (role === undefined) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: unauthenticatedMessage });
  }
  // Stryker disable next-line StringLiteral,OptionalChaining: every procedure states its access (restRoutes); this is a fallback.
  const access = meta?.access ?? 'admin';
  if (!grants[role].includes(access)) {
    throw new TRPCError({
      code: 'FORBIDDEN',
      message: `a ${role} token may not make this call; it needs ${rolesFor(access).join(' or ')}`,
    });
  }
  return next();
});

/** One line per call, under the request's id: the procedure, how long it took and how it ended; and its metrics. */
const logCall = t.middleware(async ({ ctx, path, next }) => {
  const started = performance.now();
  const result = await next();
  const durationMs = performance.now() - started;
  ctx.log.info(
    {
      procedure: path,
      durationMs: Math.round(durationMs * 100) / 100,
      outcome: result.ok ? 'ok' : result.error.code,
    },
    'procedure',
  );
  ctx.observeProcedure?.(
    path,
    result.ok ? 200 : getHTTPStatusCodeFromError(result.error),
    durationMs / 1_000,
  );
  return result;
});

/**
 * What no schema says, checked on every procedure's input as it arrived: no NUL character, no reserved key, no
 * nesting past the limit (the last two only REST input can still hold here: the transformer rejects them first).
 */
const rejectRawInput = t.middleware(async ({ getRawInput, next }) => {
  const input = await getRawInput();
  rejectTooDeep(input);
  rejectNul(input);
  rejectReservedKeys(input);
  return next();
});

export const procedure = t.procedure.use(logCall).use(mapErrors).use(requireRole).use(rejectRawInput);
