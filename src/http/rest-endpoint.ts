import { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { authenticated, unauthenticatedMessage } from '../api/access';
import { type ContextSettings, contextFor, disconnectSignal } from '../api/context';
import { fromFrameworkError } from '../api/error-mapping';
import { describeError, type RestErrorBody, retryAfterSeconds } from '../api/error-shape';
import { appRouter } from '../api/router';
import type { OpenAPIObject } from 'trpc-to-openapi';

type Input = Record<string, unknown>;
type Schema = { type?: string; anyOf?: Schema[] };
interface Operation {
  operationId: string;
  parameters?: { name: string; in: string; schema?: Schema }[];
  responses?: Record<string, unknown>;
}

/** An error in the REST shape, `{ code, message, field, issues }`, with its status, and `retry-after` on a 503. */
export function sendRestError(reply: FastifyReply, error: TRPCError, production: boolean): FastifyReply {
  const status = getHTTPStatusCodeFromError(error);
  if (status === 503) reply.header('retry-after', retryAfterSeconds);
  const body: RestErrorBody = { code: error.code, ...describeError(error, production) };
  return reply.code(status).send(body);
}

const badRequest = (message: string) => new TRPCError({ code: 'BAD_REQUEST', message });

/** The JSON type a parameter's schema gives its values, under a nullable's `anyOf`. */
const typeOf = (schema: Schema | undefined): string | undefined =>
  schema?.type ?? schema?.anyOf?.find((branch) => branch.type !== 'null')?.type;

/**
 * Query strings carry text; the document says what each parameter is. Repeated or single values of an array
 * become an array, and numbers their values; anything else is left for zod to judge.
 */
function queryInput(query: Record<string, string | string[]>, types: Map<string, string | undefined>): Input {
  // Without a prototype, a `__proto__` parameter is a plain key, which the procedures' input check rejects by name.
  const input = Object.create(null) as Input;
  for (const [key, value] of Object.entries(query)) {
    const type = types.get(key);
    if (type === 'array') input[key] = Array.isArray(value) ? value : [value];
    else if (
      typeof value === 'string' &&
      (type === 'number' || type === 'integer') &&
      /^-?\d+(\.\d+)?$/.test(value)
    )
      input[key] = Number(value);
    else input[key] = value;
  }
  return input;
}

/** Path parameters name the resource; a body that names another one is rejected rather than silently overridden. */
function bodyInput(body: unknown, params: Record<string, string>): Input {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw badRequest('the request body must be a JSON object');
  for (const [key, value] of Object.entries(params)) {
    if (key in body && (body as Input)[key] !== value)
      throw badRequest(`${key}: the body and the path name different values`);
  }
  return body as Input;
}

type Call = (input: Input) => Promise<unknown>;

/**
 * Serves every operation of the OpenAPI document at `<prefix><path>` as plain Fastify routes, each calling its
 * procedure through the router's public caller: same input schema, auth, services and response schema as over
 * tRPC. Responses are plain JSON (dates as ISO strings); errors are `{ code, message, field, issues }`.
 */
export async function registerRest(
  app: FastifyInstance,
  prefix: string,
  settings: ContextSettings,
  document: OpenAPIObject,
): Promise<void> {
  app.addHook('onRequest', async (request, reply) => {
    if (authenticated(request.headers.authorization, settings.tokens)) return;
    return sendRestError(
      reply,
      new TRPCError({ code: 'UNAUTHORIZED', message: unauthenticatedMessage }),
      settings.production,
    );
  });
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if ((error.statusCode ?? 500) >= 500) request.log.error({ err: error }, 'request failed');
    return sendRestError(reply, fromFrameworkError(error), settings.production);
  });
  await app.register(
    async (scope) =>
      scope.setNotFoundHandler((request, reply) => {
        const message = `no operation ${request.method} ${request.url.split('?')[0]}`;
        return sendRestError(reply, new TRPCError({ code: 'NOT_FOUND', message }), settings.production);
      }),
    { prefix },
  );
  // The routes read JSON only: a body of any other type is rejected with 415, not read as a string. Keys are kept
  // as `JSON.parse` keeps them, as over tRPC: `__proto__` as a plain key, for the procedures' input check to
  // reject by name, and `constructor` and `prototype` as the data they are.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    app.getDefaultJsonParser('ignore', 'ignore'),
  );

  const createCaller = appRouter.createCaller;
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, operation] of Object.entries(item as Record<string, Operation>)) {
      // The generator names each operation after its procedure: `videos-list` is `videos.list`.
      const [namespace, name] = operation.operationId.split('-') as [string, string];
      const types = new Map((operation.parameters ?? []).map((p) => [p.name, typeOf(p.schema)]));
      const readsQuery = method === 'get' || method === 'delete';
      // The document's success status (201 for a create), so the two cannot differ.
      const success = Number(
        Object.keys(operation.responses ?? {}).find((status) => status.startsWith('2')) ?? 200,
      );
      app.route<{ Params: Record<string, string>; Querystring: Record<string, string | string[]> }>({
        method: method.toUpperCase() as 'GET',
        url: `${prefix}${path.replace(/\{(\w+)\}/g, ':$1')}`,
        handler: async (request, reply) => {
          try {
            const input = {
              ...(readsQuery ? queryInput(request.query, types) : bodyInput(request.body, request.params)),
              ...request.params,
            };
            const caller = createCaller(contextFor(request, settings), { signal: disconnectSignal(reply) });
            const procedures = caller[namespace as keyof typeof caller] as unknown as Record<string, Call>;
            const response = await procedures[name]!(input);
            return reply.code(success).send(response);
          } catch (thrown) {
            const error =
              thrown instanceof TRPCError
                ? thrown
                : new TRPCError({ code: 'INTERNAL_SERVER_ERROR', cause: thrown });
            if (error.code === 'INTERNAL_SERVER_ERROR')
              request.log.error({ err: error.cause ?? error }, 'procedure failed');
            return sendRestError(reply, error, settings.production);
          }
        },
      });
    }
  }
}
