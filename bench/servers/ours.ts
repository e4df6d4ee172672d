import { buildApp } from '../../src/app';
import { connect } from '../../src/db/connect';

/** Our API over the bench database, in its own process so the load generator does not share its event loop. */
async function main(): Promise<void> {
  const db = connect(process.env.DATABASE_URL!, {
    DATABASE_POOL_SIZE: Number(process.env.DATABASE_POOL_SIZE),
    DATABASE_CONNECT_TIMEOUT_MS: 5_000,
    DEBUG: false,
  });
  const app = await buildApp({ db, logger: false, tokens: [], production: true });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.send?.({ address, pid: process.pid });
  process.once(
    'SIGTERM',
    () =>
      void app
        .close()
        .then(() => db.destroy())
        .then(() => process.exit(0)),
  );
}

void main();
