import { createHash, timingSafeEqual } from 'node:crypto';
import { initTRPC, TRPCError } from '@trpc/server';
import type { OpenApiMeta, OpenApiMethod } from 'trpc-to-openapi';
import superjson from 'superjson';
import { ZodError } from 'zod';
import type { Context } from './context';
import { toTRPCError } from './error-mapping';

const t = initTRPC.context<Context>().meta<OpenApiMeta>().create({
  transformer: superjson,
  errorFormatter({ shape, error, ctx }) {
    const zodError = error.cause instanceof ZodError ? error.cause : undefined;
    const field = (error.cause as { field?: unknown } | undefined)?.field;
    // Production answers to unexpected failures say nothing about the code or the SQL behind them.
    const hideDetail = ctx?.production && error.code === 'INTERNAL_SERVER_ERROR';
    return {
      ...shape,
      message: hideDetail
        ? 'Internal server error'
        : zodError
          ? zodError.issues.map((issue) => `${issue.path.join('.') || 'input'}: ${issue.message}`).join('; ')
          : shape.message,
      data: {
        code: shape.data.code,
        httpStatus: shape.data.httpStatus,
        path: shape.data.path,
        ...(ctx?.production ? {} : { stack: shape.data.stack }),
        field: typeof field === 'string' ? field : null,
        issues: zodError ? zodError.issues.map(({ path, message, code }) => ({ path, message, code })) : null,
      },
    };
  },
});

export const router = t.router;

/**
 * Publishes a procedure at a REST path as well as at `/trpc/<name>`, and so in the OpenAPI document, filed under
 * its router's tag.
 */
export const restRoutes =
  (tag: string) =>
  (method: OpenApiMethod, path: `/${string}`, summary: string): OpenApiMeta => ({
    openapi: { method, path, tags: [tag], summary },
  });
export const createCallerFactory = t.createCallerFactory;

/** Turns the services' domain errors into tRPC errors a client can act on. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toTRPCError(result.error);
  return result;
});

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares fixed-length digests in constant time, so neither the token's content nor its length leaks. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const presented = header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
  return timingSafeEqual(digest(presented), digest(token));
}

/** With `API_TOKEN` set, every procedure needs `Authorization: Bearer <token>`. */
const requireToken = t.middleware(({ ctx, next }) => {
  if (ctx.apiToken !== undefined && !tokenMatches(ctx.authorization, ctx.apiToken)) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'a valid bearer token is required' });
  }
  return next();
});

export const procedure = t.procedure.use(mapErrors).use(requireToken);
