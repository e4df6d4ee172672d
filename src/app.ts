import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import cors from '@fastify/cors';
import helmet from '@fastify/helmet';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Knex } from 'knex';
import { defaultMaxBatchCalls } from './api/batch-limit';
import type { ContextSettings } from './api/context';
import { fromFrameworkError } from './api/error-mapping';
import { bodyLimitBytes } from './api/raw-input';
import { JobWakeups } from './queue/wakeups';
import { registerAdmin } from './http/admin';
import { registerDocs } from './http/docs';
import { createApiMetrics, type MetricsOptions } from './http/metrics';
import { openApiDocument, restPrefix } from './http/openapi';
import { RequestLog } from './http/request-log';
import { registerRest, sendRestError } from './http/rest-endpoint';
import { traceRequests } from './http/tracing';
import { registerTRPC, sendTRPCError } from './http/trpc-endpoint';

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's database; each request's context carries it to the services. */
    db: Knex;
  }
}

export interface AppOptions extends Omit<ContextSettings, 'wakeups'> {
  /** The database the app serves; two apps in one process may serve two databases. */
  db: Knex;
  /** Close `db` when the app closes: its owner is the app. Off by default, for a pool the caller shares. */
  closeDatabase?: boolean;
  /** Where waiting claims LISTEN for new work; the pool's own URL unless it goes through PgBouncer. */
  listenUrl?: string;
  logger: FastifyServerOptions['logger'];
  /** Browser origins allowed to call the API; CORS stays off when empty. */
  corsOrigins?: string[];
  /** The most calls one tRPC batch request may hold; `defaultMaxBatchCalls` unless set. */
  maxBatchCalls?: number;
  /** Serves Prometheus metrics at `/metrics` when set (docs/metrics.md). */
  metrics?: MetricsOptions;
}

export { bodyLimitBytes };

/**
 * Builds the HTTP app without listening, so tests need no port: tRPC at /trpc, the same procedures as REST routes
 * at /api, their OpenAPI document at /openapi.json and reference page at /docs, the operator's dashboard at /admin,
 * health checks beside them.
 */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger,
    bodyLimit: bodyLimitBytes,
    routerOptions: { maxParamLength: 5_000 },
    requestIdHeader: 'x-request-id',
    logController: new RequestLog(),
    // What the router rejects before any route (a path that does not decode, a parameter past its length) is
    // responded to in the error shape of the API the path is under.
    frameworkErrors: (error, request, reply) => {
      const rejection = fromFrameworkError(error);
      if (request.url.startsWith('/trpc/')) return void sendTRPCError(request, reply, rejection, settings);
      return sendRestError(reply, rejection, options.production);
    },
  });
  const connection = options.db.client.config.connection as {
    connectionString: string;
    connectionTimeoutMillis?: number;
  };
  const wakeups = new JobWakeups(
    options.listenUrl ?? connection.connectionString,
    connection.connectionTimeoutMillis,
  );
  // Closing waits for requests in flight; before it does, waiting claims return empty, and connections that never
  // sent a request are closed (Node counts them as neither idle nor busy, so they would hold the close until
  // its headers timeout).
  const unused = new Set<Socket>();
  let closing = false;
  app.server.on('connection', (socket: Socket) => {
    if (closing) {
      socket.destroy();
      return;
    }
    unused.add(socket);
    socket.once('close', () => unused.delete(socket));
  });
  app.server.on('request', (request: IncomingMessage) => unused.delete(request.socket));
  app.addHook('preClose', async () => {
    closing = true;
    for (const socket of unused) socket.destroy();
    await wakeups.close();
  });
  app.decorate('db', options.db);
  if (options.closeDatabase) app.addHook('onClose', () => options.db.destroy());
  const metrics = options.metrics && createApiMetrics(options.db, options.metrics);
  const settings = { ...options, wakeups, observeProcedure: metrics?.observeProcedure };
  metrics?.register(app);
  traceRequests(app);
  await app.register(helmet, { contentSecurityPolicy: false });
  if (options.corsOrigins?.length) await app.register(cors, { origin: options.corsOrigins });

  app.get('/health', async () => ({ status: 'ok' }));

  app.get('/ready', async (_request, reply) => {
    try {
      await options.db.raw('SELECT 1');
      const [, pending] = (await options.db.migrate.list()) as [unknown[], unknown[]];
      if (pending.length > 0)
        return reply.code(503).send({ status: 'migrations pending', pending: pending.length });
      // Waiting claims need the connection that LISTENs, which can fail on its own (`DATABASE_LISTEN_URL`).
      if (!(await wakeups.listening()))
        return reply.code(503).send({ status: 'listen connection unavailable' });
      return { status: 'ready' };
    } catch {
      return reply.code(503).send({ status: 'database unavailable' });
    }
  });

  // Each API in its own scope: tRPC reads bodies as text itself, REST routes take Fastify's parsed JSON.
  const document = openApiDocument();
  await app.register(async (scope) =>
    registerTRPC(scope, '/trpc', settings, options.maxBatchCalls ?? defaultMaxBatchCalls),
  );
  await app.register(async (scope) => registerRest(scope, restPrefix, settings, document));
  await registerDocs(app, document);
  await registerAdmin(app, { tokens: options.tokens });

  return app;
}
