import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { connect } from '../../src/db/connect';
import { testDatabase } from '../support/database';

describe('an exhausted pool', () => {
  it('answers SERVICE_UNAVAILABLE within the connection timeout instead of hanging', async () => {
    const db = connect(testDatabase().url, {
      DATABASE_POOL_SIZE: 2,
      DATABASE_CONNECT_TIMEOUT_MS: 500,
      DEBUG: false,
    });
    const app = await buildApp({ db, logger: false, tokens: [], production: true });
    // Slow queries hold every connection of the pool.
    const holders = [db.raw('SELECT pg_sleep(2)').then(), db.raw('SELECT pg_sleep(2)').then()];
    await new Promise((resolve) => setTimeout(resolve, 100));
    try {
      const started = Date.now();
      const response = await app.inject({
        method: 'GET',
        url: '/trpc/channels.list?input=%7B%22json%22%3A%7B%7D%7D',
      });
      expect(response.statusCode).toBe(503);
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(response.json().error.json.data.code).toBe('SERVICE_UNAVAILABLE');
    } finally {
      await Promise.all(holders);
      await app.close();
      await db.destroy();
    }
  });
});
