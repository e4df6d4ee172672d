import { callTRPCProcedure, TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { authenticated, unauthenticatedMessage } from './access';
import { type ContextSettings, contextFor, disconnectSignal } from './context';
import { fromFrameworkError } from './error-mapping';
import { describeError, type RestErrorBody, retryAfterSeconds } from './error-shape';
import { kindOf, procedureTable } from './library-internals';
import { jsonTooDeep, tooDeepMessage } from './raw-input';
import { appRouter } from './router';
import { Answer } from './transformer';
/**
 * Query strings carry text; the input schema decides what each parameter is. Repeated or single values of an
 * array field become an array, and numbers their values; anything else is left for zod to judge.
 */
function queryInput(
  query: Record<string, string | string[]>,
  kinds: Map<string, string>,
): Record<string, unknown> {
  // Without a prototype, a `__proto__` parameter is a plain key, which the procedures' input check rejects by name.
  const input: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(query)) {
    const kind = kinds.get(key);
    if (kind === 'array') input[key] = Array.isArray(value) ? value : [value];
    // Stryker disable next-line ConditionalExpression: a repeated value never reads as digits below, so it is left as is either way.
    else if (Array.isArray(value)) input[key] = value;
    else if (kind === 'number' && /^-?\d+(\.\d+)?$/.test(value)) input[key] = Number(value);
    else input[key] = value;
  }
  return input;
}

/** An error in the REST shape, `{ code, message, field, issues }`, with its status, and `retry-after` on a 503. */
export function sendRestError(reply: FastifyReply, error: TRPCError, production: boolean): FastifyReply {
  const status = getHTTPStatusCodeFromError(error);
  if (status === 503) reply.header('retry-after', retryAfterSeconds);
  const body: RestErrorBody = { code: error.code, ...describeError(error, production) };
  return reply.code(status).send(body);
}

function asTRPCError(thrown: unknown): TRPCError {
  return thrown instanceof TRPCError
    ? thrown
    : new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: thrown });
}

function badRequest(message: string): TRPCError {
  return new TRPCError({ code: 'BAD_REQUEST', message });
}

/** Path parameters name the resource; a body that names another one is refused rather than silently overridden. */
function bodyInput(body: unknown, params: Record<string, string>): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw badRequest('the request body must be a JSON object');
  for (const [key, value] of Object.entries(params)) {
    if (key in body && (body as Record<string, unknown>)[key] !== value) {
      throw badRequest(`${key}: the body and the path name different values`);
    }
  }
  return body as Record<string, unknown>;
}

/**
 * Serves every procedure that declares a REST route (its `meta.openapi`) at `<prefix><path>`, by calling the same
 * procedure a tRPC client calls: same input schema, auth, services and answer schema. Answers are plain JSON
 * (dates as ISO strings); errors are `{ code, message, field, issues }` with the matching HTTP status.
 */
export function registerRest(app: FastifyInstance, prefix: string, settings: ContextSettings): void {
  // What Fastify rejects before a procedure runs (malformed JSON, another content type, a body too large), and a
  // path under the prefix that names no operation, are answered in the same shape as the procedures' errors.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if ((error.statusCode ?? 500) >= 500) request.log.error({ err: error }, 'request failed');
    return sendRestError(reply, fromFrameworkError(error), settings.production);
  });
  void app.register(
    async (scope) =>
      scope.setNotFoundHandler((request, reply) =>
        sendRestError(
          reply,
          new TRPCError({
            code: 'NOT_FOUND',
            message: `no operation ${request.method} ${request.url.split('?')[0]}`,
          }),
          settings.production,
        ),
      ),
    { prefix },
  );
  // The routes read JSON only: a body of any other type is rejected with 415, not read as a string.
  app.removeContentTypeParser('text/plain');

  // A caller without a token the API knows is answered before its body is read: it learns nothing of the
  // procedures' inputs, and sends no body the server parses.
  app.addHook('onRequest', async (request, reply) => {
    if (authenticated(request.headers.authorization, settings.tokens)) return;
    return reply
      .code(401)
      .send({ code: 'UNAUTHORIZED', message: unauthenticatedMessage, field: null, issues: null });
  });

  // Fastify's own JSON parser, behind a depth check: schemas walk input recursively. Keys are kept as `JSON.parse`
  // keeps them, as over tRPC: `__proto__` as a plain key, for the procedures' input check to reject by name, and
  // `constructor` and `prototype` as the data they are.
  const parseJson = app.getDefaultJsonParser('ignore', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (jsonTooDeep(body as string)) done(Object.assign(new Error(tooDeepMessage), { statusCode: 400 }));
    else parseJson(request, body as string, done);
  });

  for (const [name, { type, route, input: inputSchema }] of procedureTable) {
    if (!route) continue;
    // A procedure without arguments takes an optional empty object.
    const { shape } = inputSchema instanceof z.ZodOptional ? inputSchema.unwrap() : inputSchema;
    const kinds = new Map(Object.entries(shape).map(([key, field]) => [key, kindOf(field)]));
    const readsQuery = route.method === 'GET' || route.method === 'DELETE';

    app.route<{ Params: Record<string, string>; Querystring: Record<string, string | string[]> }>({
      method: route.method,
      url: `${prefix}${route.path.replace(/\{(\w+)\}/g, ':$1')}`,
      handler: async (request, reply) => {
        try {
          const input = {
            ...(readsQuery ? queryInput(request.query, kinds) : bodyInput(request.body, request.params)),
            ...request.params,
          };
          const data: unknown = await callTRPCProcedure({
            router: appRouter,
            path: name,
            type,
            ctx: contextFor(request, settings),
            getRawInput: async () => input,
            signal: disconnectSignal(reply),
            batchIndex: 0,
          });
          // Written by the answer check; its text is plain JSON too (dates as ISO strings).
          if (data instanceof Answer)
            return reply.header('content-type', 'application/json; charset=utf-8').send(data.text);
          return data;
        } catch (thrown) {
          const error = asTRPCError(thrown);
          if (error.code === 'INTERNAL_SERVER_ERROR')
            request.log.error({ err: error.cause ?? error }, 'procedure failed');
          return sendRestError(reply, error, settings.production);
        }
      },
    });
  }
}
