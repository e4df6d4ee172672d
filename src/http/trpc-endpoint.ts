import { TRPCError } from '@trpc/server';
import { fastifyTRPCPlugin, type FastifyTRPCPluginOptions } from '@trpc/server/adapters/fastify';
import { resolveResponse } from '@trpc/server/http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticated, unauthenticatedMessage } from '../api/access';
import { type ContextSettings, contextFor } from '../api/context';
import { fromFrameworkError } from '../api/error-mapping';
import { retryAfterSeconds } from '../api/error-shape';
import { type AppRouter, appRouter } from '../api/router';

/** `retry-after` on a response that holds a 503: the database was out of reach or busy past its retries. */
const responseMeta = ({ errors }: { errors: TRPCError[] }) =>
  errors.some((error) => error.code === 'SERVICE_UNAVAILABLE')
    ? { headers: { 'retry-after': retryAfterSeconds } }
    : {};

/**
 * Whether tRPC streams a batch's responses as they settle (`httpBatchStreamLink`): `trpc-accept` says so, or, when
 * it is absent, `accept` lists `application/jsonl`; tRPC reads the two headers the same way.
 */
const streamed = ({ headers }: FastifyRequest) =>
  headers['trpc-accept'] !== undefined
    ? headers['trpc-accept'] === 'application/jsonl'
    : (headers.accept ?? '').split(',').some((type) => type.trim() === 'application/jsonl');

/**
 * Sends an error for a request rejected before any procedure reads it, in the shape tRPC gives the procedures'
 * errors: tRPC's own handler writes it, told the error instead of a request to resolve.
 */
export async function sendTRPCError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: TRPCError,
  settings: ContextSettings,
): Promise<FastifyReply> {
  const response = await resolveResponse({
    router: appRouter,
    req: new Request('http://localhost/'),
    path: '',
    error,
    createContext: async () => contextFor(request, settings),
    responseMeta,
  });
  response.headers.forEach((value, key) => void reply.header(key, value));
  return reply.code(response.status).send(await response.text());
}

/**
 * Serves the router at `<prefix>/:path` through tRPC's Fastify adapter. A caller without a token the API knows is
 * rejected before its body is read; what Fastify rejects itself (another content type, a body too large) and a
 * path that names no route get responses in tRPC's error shape, as the procedures' errors are.
 */
export async function registerTRPC(
  app: FastifyInstance,
  prefix: string,
  settings: ContextSettings,
  maxBatchCalls: number,
): Promise<void> {
  app.addHook('onRequest', async (request, reply) => {
    if (authenticated(request.headers.authorization, settings.tokens)) return;
    const error = new TRPCError({ code: 'UNAUTHORIZED', message: unauthenticatedMessage });
    return sendTRPCError(request, reply, error, settings);
  });
  // The rules of a batch, checked before its body is read. Each call of a batch runs at once, so its size is bounded
  // (tRPC's own `maxBatchSize` checks it once the body is read, and responds in text/plain). A claim's jobs go back
  // to the queue when its caller leaves before the response is written; a streamed batch writes each call's response
  // as it settles, so a claim in one could be released after its caller read it.
  app.addHook('onRequest', async (request: FastifyRequest<{ Querystring: { batch?: string } }>, reply) => {
    if (request.query.batch !== '1') return;
    const procedures = request.url.split('?')[0]!.split(',');
    const message =
      procedures.length > maxBatchCalls
        ? `a batch may hold at most ${maxBatchCalls} calls; this one holds ${procedures.length}`
        : streamed(request) && procedures.some((path) => path.endsWith('jobs.claim'))
          ? 'jobs.claim is not taken in a streamed batch: call it on its own, or in a batch that is not streamed'
          : undefined;
    if (message === undefined) return;
    return sendTRPCError(request, reply, new TRPCError({ code: 'BAD_REQUEST', message }), settings);
  });
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    if ((error.statusCode ?? 500) >= 500) request.log.error({ err: error }, 'request failed');
    return sendTRPCError(request, reply, fromFrameworkError(error), settings);
  });
  await app.register(
    async (scope) =>
      scope.setNotFoundHandler(async (request, reply) => {
        const message = `no route ${request.method} ${request.url.split('?')[0]}`;
        return sendTRPCError(request, reply, new TRPCError({ code: 'NOT_FOUND', message }), settings);
      }),
    { prefix },
  );
  // The procedures read JSON only: a body of any other type is rejected with 415 before it is read.
  app.removeContentTypeParser(['text/plain']);

  await app.register(fastifyTRPCPlugin, {
    prefix,
    trpcOptions: {
      router: appRouter,
      createContext: ({ req }) => contextFor(req, settings),
      responseMeta,
      onError: ({ error, path, ctx }) => {
        if (error.code === 'INTERNAL_SERVER_ERROR')
          ctx?.log.error({ err: error.cause ?? error, path }, 'procedure failed');
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>['trpcOptions'],
  });
}
