import pino from 'pino';
import { ConfigError, loadConfig, schedulerSettings } from './config';
import { connect } from './db/connect';
import { provisionDatabase } from './db/provision';
import { startScheduler } from './queue/scheduler';

/**
 * `npm run scheduler`: the scheduler on its own, for deployments that keep it out of the API processes
 * (set SCHEDULER_INTERVAL_SECONDS=0 there). Same settings as the API's; SIGTERM or SIGINT stop it.
 */
async function main(): Promise<void> {
  const config = loadConfig('scheduler');
  const interval = config.SCHEDULER_INTERVAL_SECONDS || 60;
  const database = await provisionDatabase(config);
  const db = connect(database.url, config);
  await db.migrate.latest();
  const log = pino({ level: config.LOG_LEVEL });
  const scheduler = startScheduler({
    ...schedulerSettings(config),
    db,
    intervalMs: interval * 1_000,
    log,
  });
  log.info({ intervalSeconds: interval }, 'scheduler started');
  const shutdown = async () => {
    await scheduler.stop();
    await db.destroy();
    await database.stop();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
