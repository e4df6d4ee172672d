import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { connect } from '../../src/db/connect';
import { testDatabase } from '../support/database';
import { until } from '../support/until';

describe('an exhausted pool', () => {
  it('responds with SERVICE_UNAVAILABLE while every connection is held, instead of waiting for one', async () => {
    const db = connect(testDatabase().url, {
      DATABASE_POOL_SIZE: 2,
      DATABASE_CONNECT_TIMEOUT_MS: 500,
      DEBUG: false,
    });
    const app = await buildApp({ db, logger: false, tokens: [], production: true });
    // Slow queries hold every connection of the pool until they are cancelled.
    let released = false;
    const holders = Promise.allSettled([db.raw('SELECT pg_sleep(60)'), db.raw('SELECT pg_sleep(60)')]).then(
      () => {
        released = true;
      },
    );
    const sleeping = () =>
      testDatabase()
        .db('pg_stat_activity')
        .where({ datname: testDatabase().db.raw('current_database()'), query: 'SELECT pg_sleep(60)' })
        .pluck('pid');
    await until(async () => (await sleeping()).length === 2);
    try {
      const response = await app.inject({
        method: 'GET',
        url: '/trpc/channels.list?input=%7B%22json%22%3A%7B%7D%7D',
      });
      expect(response.statusCode).toBe(503);
      expect(response.json().error.json.data.code).toBe('SERVICE_UNAVAILABLE');
      // Responded to while both connections were still held: it gave up waiting for one.
      expect(released).toBe(false);
    } finally {
      await testDatabase().db.raw('SELECT pg_cancel_backend(pid) FROM unnest(?::integer[]) AS pid', [
        await sleeping(),
      ]);
      await holders;
      await app.close();
      await db.destroy();
    }
  });
});
