import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { connect } from '../../src/db/connect';
import { channelFactory } from '../../dev/factories';
import { transientAttempts, transientRetries } from '../../src/services/database-errors';
import { testDatabase, testPoolSettings } from '../support/database';

describe('a database busy past the retries', () => {
  it('responds with 503 with Retry-After, after retrying the call, and the row stays as it was', async () => {
    const { db, url } = testDatabase();
    const channel = await channelFactory.create();
    // The app's connections give up on a row lock after 50 ms (55P03, lock_not_available), which is retried.
    const impatient = new URL(url);
    impatient.searchParams.set('options', '-c lock_timeout=50');
    const appDb = connect(impatient.toString(), testPoolSettings);
    const app = await buildApp({ db: appDb, logger: false, tokens: [], production: true });
    await app.ready();
    const holder = await db.transaction();
    try {
      await holder('channels').where({ id: channel.id }).forUpdate().select('id');
      const before = transientRetries.get('55P03') ?? 0;
      const response = await request(app.server)
        .patch(`/api/channels/${channel.id}`)
        .send({ name: 'Renamed' });
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(response.body).toMatchObject({
        code: 'SERVICE_UNAVAILABLE',
        message: expect.stringMatching(/busy/),
      });
      expect((transientRetries.get('55P03') ?? 0) - before).toBe(transientAttempts - 1);

      const trpc = await request(app.server)
        .post('/trpc/channels.update')
        .send({ json: { id: channel.id, name: 'Renamed' } });
      expect(trpc.status).toBe(503);
      expect(trpc.headers['retry-after']).toBe('1');
    } finally {
      await holder.rollback();
      await app.close();
      await appDb.destroy();
    }
    expect((await db('channels').where({ id: channel.id }).first()).name).toBe(channel.name);
  });
});
