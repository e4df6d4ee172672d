import type { TRPCResponse } from '@trpc/server/rpc';
import {
  callTRPCProcedure,
  getTRPCErrorFromUnknown,
  getTRPCErrorShape,
  TRPCError,
  transformTRPCResponse,
} from '@trpc/server';
import { getHTTPStatusCode, getHTTPStatusCodeFromError, resolveResponse } from '@trpc/server/http';
import { incomingMessageToRequest } from '@trpc/server/adapters/node-http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { authenticated, unauthenticatedMessage } from './access';
import { type Context, type ContextSettings, contextFor, disconnectSignal } from './context';
import { fromFrameworkError } from './error-mapping';
import { retryAfterSeconds } from './error-shape';
import { procedureTable, routerConfig } from './library-internals';
import { jsonTooDeep, tooDeepMessage } from './raw-input';
import { appRouter } from './router';
import { Answer } from './transformer';

type TRPCRoute = FastifyRequest<{
  Params: { path: string };
  Querystring: Record<string, string | undefined>;
}>;

interface PlainCall {
  path: string;
  type: 'query' | 'mutation';
  input: unknown;
}

const config = routerConfig;
const typeOfMethod: Record<string, PlainCall['type'] | undefined> = { GET: 'query', POST: 'mutation' };

/** Reads a call's input (JSON, then the transformer); undefined, not a throw, for input that does not read. */
// Stryker disable BlockStatement: the fast path falling back to tRPC's own handler answers the same, only slower.
function readInput<T>(read: () => T): { value: T } | undefined {
  try {
    return { value: read() };
  } catch {
    return undefined;
  }
}

// Stryker restore BlockStatement
const deserialize = (input: unknown): unknown =>
  // Stryker disable next-line ConditionalExpression: the fast path falling back to tRPC's own handler answers the same, only slower.
  input === undefined ? undefined : config.transformer.input.deserialize(input);

/**
 * The calls of a request in tRPC's plain JSON form: queries over GET or mutations over POST, one or a batch, each
 * naming a procedure that exists, with input that parses. Anything else (streaming, subscriptions, a wrong method,
 * an unknown path, malformed input) is undefined and left to tRPC's own `resolveResponse`, which words those errors.
 */
// Stryker disable next-line BlockStatement: the fast path falling back to tRPC's own handler answers the same, only slower.
function plainCalls(request: TRPCRoute): { calls: PlainCall[]; batch: boolean } | undefined {
  const type = typeOfMethod[request.method];
  const accept = request.headers['trpc-accept'] ?? request.headers.accept ?? '';
  // Stryker disable next-line BooleanLiteral: the fast path falling back to tRPC's own handler answers the same, only slower.
  if (!type || accept.includes('application/jsonl')) return undefined;
  const batch = request.query.batch === '1';
  // Stryker disable next-line StringLiteral: the fast path falling back to tRPC's own handler answers the same, only slower.
  const paths = batch ? request.params.path.split(',') : [request.params.path];
  if (!paths.every((path) => procedureTable.get(path)?.type === type)) return undefined;
  const text = type === 'query' ? request.query.input : (request.body as string | undefined);
  const raw = readInput((): unknown => (text ? JSON.parse(text) : undefined));
  if (!raw) return undefined;
  if (!batch) {
    const input = readInput(() => deserialize(raw.value));
    return input && { batch, calls: [{ path: paths[0]!, type, input: input.value }] };
  }
  if (raw.value !== undefined && (typeof raw.value !== 'object' || raw.value === null)) return undefined;
  const inputs = readInput(() =>
    paths.map((_path, index) => deserialize((raw.value as Record<string, unknown> | undefined)?.[index])),
  );
  return inputs && { batch, calls: paths.map((path, index) => ({ path, type, input: inputs.value[index] })) };
}

/**
 * Answers plain calls the way `resolveResponse` does (same bodies, statuses and error shapes, built with tRPC's
 * own exported helpers) without converting the request to a Fetch `Request` and back from a `Response`, which cost
 * more than the procedure itself for a small read (see BENCHMARKS.md).
 */
async function answerPlainCalls(
  calls: PlainCall[],
  batch: boolean,
  ctx: Context,
  signal: AbortSignal,
): Promise<{ status: number; body: string }> {
  const errors: (TRPCError | undefined)[] = [];
  const answers = await Promise.all(
    calls.map(async ({ path, type, input }, index) => {
      try {
        const data: unknown = await callTRPCProcedure({
          router: appRouter,
          path,
          type,
          ctx,
          getRawInput: async () => input,
          signal,
          batchIndex: index,
        });
        return { result: { data } };
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        errors[index] = error;
        logFailure(ctx, error, path);
        return { error: getTRPCErrorShape({ config, error, type, path, input, ctx }) };
      }
    }),
  );
  return {
    status: getHTTPStatusCode(batch ? answers : answers[0]!, errors),
    body: batch ? `[${answers.map(answerText).join(',')}]` : answerText(answers[0]!),
  };
}

/** One call's answer as tRPC writes it; the text of an answer the answer check wrote goes in as it is. */
function answerText(answer: TRPCResponse): string {
  const data = 'result' in answer ? answer.result.data : undefined;
  if (!(data instanceof Answer)) return JSON.stringify(transformTRPCResponse(config, answer));
  return `{"result":{"data":${data.superjsonText()}}}`;
}

/** An error answer for a request refused before any procedure reads it. */
function answerRefusal(error: TRPCError, ctx: Context): { status: number; body: string } {
  const shape = getTRPCErrorShape({ config, error, type: 'unknown', path: undefined, input: undefined, ctx });
  return {
    status: getHTTPStatusCodeFromError(error),
    body: JSON.stringify(transformTRPCResponse(config, { error: shape })),
  };
}

/** Sends an error for a request rejected before any procedure reads it, in tRPC's shape, `retry-after` on a 503. */
export function sendTRPCError(
  request: FastifyRequest,
  reply: FastifyReply,
  error: TRPCError,
  settings: ContextSettings,
): FastifyReply {
  const { status, body } = answerRefusal(error, contextFor(request, settings));
  if (status === 503) reply.header('retry-after', retryAfterSeconds);
  return reply.code(status).header('content-type', 'application/json').send(body);
}

function logFailure(ctx: Context, error: TRPCError, path: string | undefined): void {
  if (error.code === 'INTERNAL_SERVER_ERROR')
    ctx.log.error({ err: error.cause ?? error, path }, 'procedure failed');
}

/**
 * Serves the router at `<prefix>/:path` with the tRPC HTTP protocol. Plain JSON calls, all the typed client
 * sends, are answered directly; the rest goes through tRPC's `resolveResponse` as its Fastify adapter would, with
 * the answer buffered into one body.
 */
export function registerTRPC(
  app: FastifyInstance,
  prefix: string,
  settings: ContextSettings,
  maxBatchCalls: number,
): void {
  // tRPC parses bodies itself; hand them over as text. The procedures read JSON only: a body of any other type is
  // rejected with 415 before it is read.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );
  app.removeContentTypeParser('text/plain');

  // What Fastify rejects before a procedure runs (another content type, a body too large), and a path under the
  // prefix that names no procedure route, are answered in tRPC's error shape, as the procedures' errors are.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if ((error.statusCode ?? 500) >= 500) request.log.error({ err: error }, 'request failed');
    return sendTRPCError(request, reply, fromFrameworkError(error), settings);
  });
  void app.register(
    async (scope) =>
      scope.setNotFoundHandler((request, reply) =>
        sendTRPCError(
          request,
          reply,
          new TRPCError({
            code: 'NOT_FOUND',
            message: `no route ${request.method} ${request.url.split('?')[0]}`,
          }),
          settings,
        ),
      ),
    { prefix },
  );

  // A caller without a token the API knows is answered before its body is read: it learns nothing of the
  // procedures' inputs, and sends no body the server parses.
  app.addHook('onRequest', async (request, reply) => {
    if (authenticated(request.headers.authorization, settings.tokens)) return;
    const { status, body } = answerRefusal(
      new TRPCError({ code: 'UNAUTHORIZED', message: unauthenticatedMessage }),
      contextFor(request, settings),
    );
    return reply.code(status).header('content-type', 'application/json').send(body);
  });

  // Each call of a batch runs at once, so a batch's size is bounded before its body is read.
  app.addHook('onRequest', async (request: TRPCRoute, reply) => {
    // A path under the prefix that names no route (answered 404 below) reaches this hook without a `path`.
    const paths = (request.params.path as string | undefined) ?? '';
    const calls = request.query.batch === '1' ? paths.split(',').length : 1;
    if (calls <= maxBatchCalls) return;
    const { status, body } = answerRefusal(
      new TRPCError({
        code: 'BAD_REQUEST',
        message: `a batch may hold at most ${maxBatchCalls} calls; this one holds ${calls}`,
      }),
      contextFor(request, settings),
    );
    return reply.code(status).header('content-type', 'application/json').send(body);
  });

  app.all<{ Params: { path: string }; Querystring: Record<string, string | undefined> }>(
    `${prefix}/:path`,
    async (request, reply) => {
      const ctx = contextFor(request, settings);
      reply.header('vary', 'trpc-accept, accept');
      if ([request.query.input, request.body].some((text) => typeof text === 'string' && jsonTooDeep(text))) {
        const { status, body } = answerRefusal(
          new TRPCError({ code: 'BAD_REQUEST', message: tooDeepMessage }),
          ctx,
        );
        return reply.code(status).header('content-type', 'application/json').send(body);
      }
      const plain = plainCalls(request);
      if (plain) {
        const { status, body } = await answerPlainCalls(
          plain.calls,
          plain.batch,
          ctx,
          disconnectSignal(reply),
        );
        if (status === 503) reply.header('retry-after', retryAfterSeconds);
        return reply.code(status).header('content-type', 'application/json').send(body);
      }
      const incoming = request.raw as typeof request.raw & { body?: unknown };
      incoming.body = request.body;
      const response = await resolveResponse({
        router: appRouter,
        req: incomingMessageToRequest(incoming, reply.raw, { maxBodySize: null }),
        path: request.params.path,
        error: null,
        createContext: async () => ctx,
        onError: ({ error, path }) => logFailure(ctx, error, path),
      });
      reply.code(response.status);
      if (response.status === 503) reply.header('retry-after', retryAfterSeconds);
      response.headers.forEach((value, key) => void reply.header(key, value));
      return reply.send(await response.text());
    },
  );
}
