import type { FastifyInstance } from 'fastify';
import type { Knex } from 'knex';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { connect } from '../../src/db/connect';
import { transientRetries } from '../../src/services/database-errors';
import { testDatabase, testPoolSettings } from '../support/database';
import {
  formatReport,
  invariantViolations,
  operationProcedures,
  runManyWriters,
} from '../support/many-writers';

let db: Knex;
let server: FastifyInstance;
let url: string;

// A pool as large as the clients, so their calls really run side by side in PostgreSQL.
beforeAll(async () => {
  db = connect(testDatabase().url, { ...testPoolSettings, DATABASE_POOL_SIZE: 16 });
  server = await buildApp({ db, logger: false, tokens: [], production: true });
  url = await server.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await server.close();
  await db.destroy();
});

describe('many writers at once', () => {
  it('responds with no 5xx to 12 clients making every kind of write on overlapping rows at once, and leaves every invariant holding', async () => {
    const report = await runManyWriters({ urls: [url], clients: 12, seed: 1, rounds: 6 });
    const retries = Object.fromEntries(transientRetries);
    console.info(`${formatReport(report)}\nretried after a lost race: ${JSON.stringify(retries)}`);

    const serverErrors = Object.entries(report).filter(([, tally]) => tally.serverErrors > 0);
    expect(serverErrors).toEqual([]);
    // Every operation ran, however the calls interleaved; the main writes each went through at least once.
    for (const procedure of Object.values(operationProcedures)) {
      expect(report[procedure]?.calls, procedure).toBeGreaterThan(0);
    }
    for (const procedure of [
      'videos.upsertMany',
      'jobs.enqueueMany',
      'jobs.claim',
      'jobs.completeMany',
      'channels.delete',
    ]) {
      expect(report[procedure]?.ok, procedure).toBeGreaterThan(0);
    }
    // Give the workers' abandoned leases nothing to do with the checks: they are about data at rest.
    const violations = await invariantViolations(db);
    expect(violations).toEqual(Object.fromEntries(Object.keys(violations).map((rule) => [rule, 0])));
  }, 60_000);
});
