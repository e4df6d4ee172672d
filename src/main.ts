import type { FastifyServerOptions } from 'fastify';
import { restPrefix } from './http/openapi';
import { buildApp } from './app';
import {
  apiTokens,
  type Config,
  ConfigError,
  loadConfig,
  metricsSettings,
  schedulerSettings,
} from './config';
import { connect } from './db/connect';
import { type ProvisionedDatabase, provisionDatabase } from './db/provision';
import { budgetsLeft } from './http/metrics';
import { flushTraces, traceIds } from './http/tracing';
import { startScheduler } from './queue/scheduler';

const shutdownTimeoutMs = 10_000;

/** Readable lines while developing, JSON lines (one object each) everywhere else. */
function loggerOptions(config: Config): FastifyServerOptions['logger'] {
  const pretty = (config.LOG_FORMAT ?? (config.NODE_ENV === 'development' ? 'pretty' : 'json')) === 'pretty';
  return {
    level: config.LOG_LEVEL,
    mixin: traceIds,
    ...(pretty && {
      transport: {
        target: 'pino-pretty',
        options: {
          translateTime: 'HH:MM:ss.l',
          ignore: 'pid,hostname,reqId',
          messageFormat: '{if reqId}[{reqId}] {end}{msg}',
          singleLine: true,
        },
      },
    }),
  };
}

/** Where Prometheus scrapes, and with what (see `metricsSettings`). */
function metricsLine(address: string, config: Config): string {
  const settings = metricsSettings(config);
  if (!settings) return 'off: NODE_ENV=production serves /metrics only with METRICS_TOKEN set';
  return `${address}/metrics${settings.token ? '  (Authorization: Bearer <METRICS_TOKEN>)' : ''}`;
}

/** What a newcomer needs after `npm start`: where everything is, and how to get data in. */
function banner(address: string, database: ProvisionedDatabase, config: Config): string {
  const where = new URL(database.url);
  where.password = '';
  const source =
    database.source === 'embedded'
      ? `embedded PostgreSQL at ${where.toString()} (data in ${config.EMBEDDED_POSTGRES_DIR})`
      : `${where.toString()} (DATABASE_URL)`;
  return [
    `TubeSensei API on ${address}`,
    `  API reference   ${address}/docs  (OpenAPI document: ${address}/openapi.json)`,
    `  dashboard       ${address}/admin/`,
    `  REST            ${address}${restPrefix}/channels, ...`,
    `  tRPC            ${address}/trpc  (typed client: createClient() from '@tubesensei/client')`,
    `  metrics         ${metricsLine(address, config)}`,
    `  database        ${source}`,
    // Seeding needs the development dependencies, which a production install leaves out.
    ...(config.NODE_ENV === 'production'
      ? []
      : [`  seed it         npm run seed  (SEED_SCENARIO=queue npm run seed for every queue state)`]),
  ].join('\n');
}

/** Starts the database (embedded unless DATABASE_URL is set), migrates it, serves the API, and stops cleanly. */
async function main(): Promise<void> {
  const config = loadConfig();
  const database = await provisionDatabase(config);
  const db = connect(database.url, config);
  await db.migrate.latest();

  const metricsAt = metricsSettings(config);
  const app = await buildApp({
    db,
    closeDatabase: true,
    logger: loggerOptions(config),
    tokens: apiTokens(config),
    listenUrl: config.DATABASE_LISTEN_URL ?? database.url,
    corsOrigins: config.CORS_ORIGINS,
    maxBatchCalls: config.TRPC_MAX_BATCH_CALLS,
    production: config.NODE_ENV === 'production',
    metrics: metricsAt && { ...metricsAt, budgets: budgetsLeft },
  });
  const address = await app.listen({ host: config.HOST, port: config.PORT });
  app.log.info(banner(address, database, config));
  const scheduler =
    config.SCHEDULER_INTERVAL_SECONDS > 0
      ? startScheduler({ ...schedulerSettings(config), db, log: app.log.child({ component: 'scheduler' }) })
      : undefined;

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info(`${signal}: finishing in-flight requests, then stopping`);
    const force = setTimeout(() => process.exit(1), shutdownTimeoutMs);
    force.unref();
    await scheduler?.stop();
    await app.close();
    await database.stop();
    await flushTraces();
    process.exit(0);
  };
  process.once('SIGINT', (signal) => void shutdown(signal));
  process.once('SIGTERM', (signal) => void shutdown(signal));
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
