import { buildApp } from './app';
import { ConfigError, loadConfig } from './config';
import { connect } from './db/connect';
import { provisionDatabase } from './db/provision';

const shutdownTimeoutMs = 10_000;

/** Starts the database (embedded unless DATABASE_URL is set), migrates it, serves the API, and stops cleanly. */
async function main(): Promise<void> {
  const config = loadConfig();
  const database = await provisionDatabase(config);
  const db = connect(database.url, config);
  await db.migrate.latest();

  const app = await buildApp({
    db,
    logger: { level: config.LOG_LEVEL },
    apiToken: config.API_TOKEN,
    corsOrigins: config.CORS_ORIGINS,
    production: config.NODE_ENV === 'production',
  });
  const address = await app.listen({ host: config.HOST, port: config.PORT });

  const where =
    database.source === 'embedded' ? `embedded PostgreSQL (${config.EMBEDDED_POSTGRES_DIR})` : 'DATABASE_URL';
  app.log.info(
    `TubeSensei API on ${address}/trpc · health ${address}/health · database: ${where} · seed it with: npm run seed`,
  );

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info(`${signal}: finishing in-flight requests, then stopping`);
    const force = setTimeout(() => process.exit(1), shutdownTimeoutMs);
    force.unref();
    await app.close();
    await db.destroy();
    await database.stop();
    process.exit(0);
  };
  process.once('SIGINT', (signal) => void shutdown(signal));
  process.once('SIGTERM', (signal) => void shutdown(signal));
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
