import { createHash, timingSafeEqual } from 'node:crypto';
import { initTRPC, TRPCError } from '@trpc/server';
import type { OpenApiMeta, OpenApiMethod } from 'trpc-to-openapi';
import type { Context } from './context';
import { toTRPCError } from './error-mapping';
import { describeError } from './error-shape';
import { transformer } from './transformer';
import { pathOfNul } from './raw-input';
import { InvalidInputError } from '../services/errors';

const t = initTRPC
  .context<Context>()
  .meta<OpenApiMeta>()
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

/**
 * Publishes a procedure at a REST path as well as at `/trpc/<name>`, and so in the OpenAPI document, filed under
 * its router's tag.
 */
export const restRoutes =
  (tag: string) =>
  (method: OpenApiMethod, path: `/${string}`, summary: string): OpenApiMeta => ({
    openapi: { method, path, tags: [tag], summary },
  });

/** Turns the services' domain errors into tRPC errors a client can act on. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) throw toTRPCError(result.error);
  return result;
});

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares fixed-length digests in constant time, so neither the token's content nor its length leaks. */
function tokenMatches(header: string | undefined, token: string): boolean {
  // RFC 9110: the scheme's name is case-insensitive.
  const presented = /^bearer +(\S+)$/i.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(presented), digest(token));
}

/** With `API_TOKEN` set, every procedure needs `Authorization: Bearer <token>`. */
const requireToken = t.middleware(({ ctx, next }) => {
  if (ctx.apiToken !== undefined && !tokenMatches(ctx.authorization, ctx.apiToken)) {
    throw new TRPCError({ code: 'UNAUTHORIZED', message: 'a valid bearer token is required' });
  }
  return next();
});

/** One line per call, under the request's id: the procedure, how long it took and how it ended. */
const logCall = t.middleware(async ({ ctx, path, next }) => {
  const started = performance.now();
  const result = await next();
  ctx.log.info(
    {
      procedure: path,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      outcome: result.ok ? 'ok' : result.error.code,
    },
    'procedure',
  );
  return result;
});

/** PostgreSQL stores no NUL character in text or JSONB: refused here, naming the field, for every procedure. */
const refuseNul = t.middleware(async ({ getRawInput, next }) => {
  const path = pathOfNul(await getRawInput());
  if (path) {
    const field = path.map(String).join('.') || 'input';
    throw new InvalidInputError(`${field}: must not contain a NUL character`, field);
  }
  return next();
});

export const procedure = t.procedure.use(logCall).use(mapErrors).use(requireToken).use(refuseNul);
