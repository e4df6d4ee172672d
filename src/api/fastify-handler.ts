import { resolveResponse } from '@trpc/server/http';
import { incomingMessageToRequest } from '@trpc/server/adapters/node-http';
import type { FastifyInstance } from 'fastify';
import { type ContextSettings, contextFor } from './context';
import { appRouter } from './router';

/**
 * Serves the router at `<prefix>/:path`, as the adapter's `fastifyTRPCPlugin` does, but answers with one
 * buffered body instead of streaming the Fetch `Response` through a web stream: the tRPC answers are small JSON
 * documents, and the stream costs several socket writes each (see BENCHMARKS.md).
 */
export function registerTRPC(app: FastifyInstance, prefix: string, settings: ContextSettings): void {
  // tRPC parses bodies itself; hand them over as text.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) =>
    done(null, body),
  );

  app.all<{ Params: { path: string } }>(`${prefix}/:path`, async (request, reply) => {
    const incoming = request.raw as typeof request.raw & { body?: unknown };
    incoming.body = request.body;
    const response = await resolveResponse({
      router: appRouter,
      req: incomingMessageToRequest(incoming, reply.raw, { maxBodySize: null }),
      path: request.params.path,
      error: null,
      createContext: async () => contextFor(request, settings),
      onError({ error, path }) {
        if (error.code === 'INTERNAL_SERVER_ERROR')
          request.log.error({ err: error.cause ?? error, path }, 'procedure failed');
      },
    });
    reply.code(response.status);
    response.headers.forEach((value, key) => void reply.header(key, value));
    return reply.send(await response.text());
  });
}
