import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { register } from 'tsx/cjs/api';
import { describe, expect, it, onTestFinished } from 'vitest';
import knex from 'knex';
import { buildApp } from '../../src/app';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres';
import { knexConfig } from '../../src/db/knex-config';
import { ensureDatabase } from '../../src/db/provision';
import { channelFactory } from '../../dev/factories';
import { stableAddress } from '../support/stable-address';
import { until } from '../support/until';

const listUrl = '/trpc/channels.list?input=%7B%22json%22%3A%7B%22limit%22%3A1%7D%7D';

describe('PostgreSQL going away under load', () => {
  it(
    'keeps the server up, fails calls while it is gone instead of waiting for it, recovers when it returns, and loses no acknowledged write',
    { timeout: 90_000 },
    async () => {
      const dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'tubesensei-outage-')), 'pgdata');
      let server = await startEmbeddedPostgres({ dataDir, persistent: true });
      const address = await stableAddress();
      address.target = Number(new URL(server.url).port);
      const url = address.urlFor(await ensureDatabase(server.url, 'outage'));
      // The pool logs each connection the outage refuses; here that is the point, so the log is left out.
      const db = knex({
        ...knexConfig(url, {
          DATABASE_POOL_SIZE: 5,
          DATABASE_CONNECT_TIMEOUT_MS: 1_000,
          DEBUG: false,
        }),
        log: { warn: () => undefined },
      });
      // Runs however the test ends, so a failure leaves no server behind.
      onTestFinished(async () => {
        await db.destroy();
        await address.close();
        await server.stop();
        await rm(path.dirname(dataDir), { recursive: true, force: true });
      });
      const unregister = register();
      await db.migrate.latest();
      unregister();
      const app = await buildApp({ db, logger: false, tokens: [], production: false });
      const create = (input: object) =>
        app.inject({
          method: 'POST',
          url: '/trpc/channels.create',
          headers: { 'content-type': 'application/json' },
          payload: { json: input },
        });

      const acknowledged: string[] = [];
      const statuses = new Map<number, number>();
      const unexpected: string[] = [];
      let writing = true;
      const writer = (async () => {
        while (writing) {
          const response = await create(channelFactory.build());
          statuses.set(response.statusCode, (statuses.get(response.statusCode) ?? 0) + 1);
          if (response.statusCode === 200) acknowledged.push(response.json().result.data.json.id);
          if (response.statusCode >= 500 && response.statusCode !== 503)
            unexpected.push(response.json().error.json.message);
          // Paces the writer; nothing waits on it.
          await sleep(10);
        }
      })();

      try {
        await until(() => acknowledged.length > 0);

        // A write in flight when PostgreSQL stops, every time: it waits on a row another transaction inserted
        // with the same YouTube id and has not committed.
        const blocker = new pg.Client({ connectionString: url });
        blocker.on('error', () => undefined);
        await blocker.connect();
        const contested = channelFactory.build();
        await blocker.query('BEGIN');
        await blocker.query(
          'INSERT INTO channels (youtube_channel_id, channel_url, name) VALUES ($1, $2, $3)',
          [contested.youtubeChannelId, contested.channelUrl, contested.name],
        );
        const inFlight = create(contested);
        await until(async () => {
          const { rows } = await db.raw<{ rows: unknown[] }>(
            `SELECT 1 FROM pg_stat_activity WHERE datname = 'outage' AND wait_event_type = 'Lock'`,
          );
          return rows.length > 0;
        });

        address.target = undefined;
        await server.stop();
        const cut = await inFlight;
        // A fast shutdown signals every backend at once; should the blocker's end let the lock pass before the
        // waiting write sees its own signal, the write commits and is acknowledged like any other.
        if (cut.statusCode === 200) acknowledged.push(cut.json().result.data.json.id);
        else expect(cut.statusCode, cut.body).toBe(503);
        await blocker.end().catch(() => undefined);

        expect((await app.inject({ method: 'GET', url: '/ready' })).statusCode).toBe(503);
        const during = await app.inject({ method: 'GET', url: listUrl });
        expect(during.statusCode).toBe(503);
        expect(during.json().error.json.data.code).toBe('SERVICE_UNAVAILABLE');
        await until(() => (statuses.get(503) ?? 0) > 0);

        server = await startEmbeddedPostgres({ dataDir, persistent: true });
        address.target = Number(new URL(server.url).port);
        await until(async () => (await app.inject({ method: 'GET', url: listUrl })).statusCode === 200);
        const before = acknowledged.length;
        await until(() => acknowledged.length > before);
        // Ready again: the database responds and the connection waiting claims need listens.
        await until(async () => (await app.inject({ method: 'GET', url: '/ready' })).statusCode === 200);
        console.info(`outage: writes by status ${JSON.stringify(Object.fromEntries(statuses))}`);
      } finally {
        writing = false;
        await writer;
        await app.close();
      }

      const stored = await db('channels')
        .whereIn('id', acknowledged)
        .count<{ count: number }[]>('* as count');
      expect(Number(stored[0]!.count)).toBe(acknowledged.length);
      expect(unexpected).toEqual([]);
    },
  );
});
