import type { FastifyInstance } from 'fastify';
import request from 'supertest';
import { describe, expect, it, onTestFinished } from 'vitest';
import { retryAfterSeconds } from '../../src/api/error-shape';
import { buildApp } from '../../src/app';
import { videoFactory } from '../../dev/factories';
import { testDatabase } from '../support/database';
import { stableAddress, type StableAddress } from '../support/stable-address';
import { until } from '../support/until';

const db = () => testDatabase().db;

/** The app over the test database, its LISTEN connection made through `address`. */
async function appListeningThrough(address: StableAddress): Promise<FastifyInstance> {
  const app = await buildApp({
    db: db(),
    listenUrl: address.urlFor(testDatabase().url),
    logger: false,
    tokens: [],
    production: true,
  });
  onTestFinished(async () => {
    await app.close();
    await address.close();
  });
  await app.ready();
  return app;
}

const ready = (app: FastifyInstance) => request(app.server).get('/ready');
const waitingClaim = (app: FastifyInstance, waitMs: number) =>
  request(app.server).post('/api/jobs/claim').send({ workerId: 'waiter', waitMs });

/** The server processes of this database's connections that listen for claimable jobs. */
const listeners = async () =>
  (
    await db().raw<{ rows: { pid: number }[] }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = current_database() AND query = 'LISTEN processing_jobs_claimable'`,
    )
  ).rows.map((row) => row.pid);

describe('readiness and the connection waiting claims listen on', () => {
  it('reports 503 naming the listen connection when it cannot be opened, while claims that do not wait go on', async () => {
    const address = await stableAddress();
    const app = await appListeningThrough(address);

    const response = await ready(app);
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ status: 'listen connection unavailable' });
    expect((await request(app.server).get('/health')).status).toBe(200);

    const waiting = await waitingClaim(app, 5_000);
    expect(waiting.status).toBe(503);
    expect(waiting.headers['retry-after']).toBe(retryAfterSeconds);
    expect(waiting.body).toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
      message: 'the database is unavailable',
    });
    expect((await waitingClaim(app, 0)).status).toBe(200);
  });

  it('goes 503 when its backend is terminated, listens again on its own once the server takes it, and is ready', async () => {
    const address = await stableAddress();
    address.target = Number(new URL(testDatabase().url).port);
    const app = await appListeningThrough(address);
    expect((await ready(app)).body).toEqual({ status: 'ready' });
    const [listener] = await listeners();
    expect(listener).toBeDefined();

    // The backend goes, and the address refuses another until it is put back.
    address.target = undefined;
    await db().raw('SELECT pg_terminate_backend(?)', [listener!]);
    await until(async () => (await ready(app)).status === 503);
    expect((await ready(app)).body).toEqual({ status: 'listen connection unavailable' });
    expect((await waitingClaim(app, 5_000)).status).toBe(503);

    address.target = Number(new URL(testDatabase().url).port);
    // Nothing asks for it: the wake-ups open it again themselves.
    await until(async () => (await listeners()).some((pid) => pid !== listener));
    expect((await ready(app)).body).toEqual({ status: 'ready' });

    const video = await videoFactory.create();
    const claim = waitingClaim(app, 20_000).then((response) => response);
    await request(app.server)
      .post('/api/jobs')
      .send({ jobType: 'transcript_extraction', entityType: 'video', entityId: video.id })
      .expect(200);
    const claimed = await claim;
    expect(claimed.status).toBe(200);
    expect(claimed.body).toMatchObject([{ entityId: video.id, status: 'running' }]);
  });
});
