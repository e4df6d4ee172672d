import knex from 'knex';
import pg from 'pg';
import superjson from 'superjson';
import request from 'supertest';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it, onTestFinished } from 'vitest';
import { retryAfterSeconds } from '../../src/api/error-shape';
import { buildApp } from '../../src/app';
import { knexConfig } from '../../src/db/knex-config';
import { channelFactory, processingJobFactory, videoFactory } from '../../dev/factories';
import { testDatabase, testPoolSettings } from '../support/database';
import { until } from '../support/until';

const db = () => testDatabase().db;

/**
 * The app over a pool of its own, for one test. PostgreSQL closes a terminated backend's socket a moment after it
 * reports the termination, and the pool may lend that connection once more in between: neither the factories'
 * pool nor the next test may get it.
 */
async function appFor(production: boolean): Promise<FastifyInstance> {
  const app = await buildApp({
    // The pool logs the connection each test cuts; here that is the point, so the log is left out.
    db: knex({ ...knexConfig(testDatabase().url, testPoolSettings), log: { warn: () => undefined } }),
    closeDatabase: true,
    logger: false,
    tokens: [],
    production,
  });
  onTestFinished(() => app.close());
  await app.ready();
  return app;
}

/** Words of the statements these calls run: none may reach a response, whatever the mode. */
const sqlText = /select |insert into|update "|returning|for update|claim_jobs|complete_jobs|processing_jobs/i;

interface Call {
  /** The procedure's name over tRPC. */
  procedure: string;
  input: Record<string, unknown>;
  /** The same call over REST. */
  rest: { method: 'post' | 'patch'; path: string; body: Record<string, unknown> };
}

interface Cut {
  call: Call;
  /** A statement that locks what the call's query will wait on, run in an open transaction beside the API. */
  lock: string;
  lockId: string;
  /** Reads back what the call would have changed. */
  rows: () => Promise<unknown>;
}

/** A video of its own with a queued job about it, claimed through the API so it runs under a real lease. */
async function claimedJob(api: FastifyInstance) {
  const video = await videoFactory.trait('queued').create();
  const job = await processingJobFactory.create({ entityId: video.id });
  const response = await request(api.server)
    .post('/api/jobs/claim')
    .send({ workerId: 'cut-worker', limit: 100, leaseSeconds: 600 });
  const claimed = (response.body as { id: string; leaseToken: string }[]).find((row) => row.id === job.id);
  if (!claimed)
    throw new Error(`the job was not claimed: ${response.status} ${JSON.stringify(response.body)}`);
  return { video, job: claimed };
}

const jobRow = (id: string) =>
  db()('processing_jobs')
    .where({ id })
    .first('status', 'attempts', 'lease_token', 'error_message', 'priority');
const videoRow = (id: string) => db()('videos').where({ id }).first('status', 'title', 'retry_count');

/** Each procedure, with rows to work on and a lock its query waits on part way through. */
const cuts: Record<string, (api: FastifyInstance) => Promise<Cut>> = {
  'videos.update': async () => {
    const video = await videoFactory.create();
    return {
      call: {
        procedure: 'videos.update',
        input: { id: video.id, title: 'changed' },
        rest: { method: 'patch', path: `/api/videos/${video.id}`, body: { title: 'changed' } },
      },
      lock: 'SELECT 1 FROM videos WHERE id = $1 FOR UPDATE',
      lockId: video.id,
      rows: () => videoRow(video.id),
    };
  },
  'channels.update': async () => {
    const channel = await channelFactory.create();
    return {
      call: {
        procedure: 'channels.update',
        input: { id: channel.id, name: 'changed' },
        rest: { method: 'patch', path: `/api/channels/${channel.id}`, body: { name: 'changed' } },
      },
      lock: 'SELECT 1 FROM channels WHERE id = $1 FOR UPDATE',
      lockId: channel.id,
      rows: () => db()('channels').where({ id: channel.id }).first('name', 'status'),
    };
  },
  'jobs.update': async () => {
    const job = await processingJobFactory.create({ priority: 1 });
    return {
      call: {
        procedure: 'jobs.update',
        input: { id: job.id, priority: 7 },
        rest: { method: 'patch', path: `/api/jobs/${job.id}`, body: { priority: 7 } },
      },
      lock: 'SELECT 1 FROM processing_jobs WHERE id = $1 FOR UPDATE',
      lockId: job.id,
      rows: () => jobRow(job.id),
    };
  },
  // The queue's statements write the job first and wait on its video after: cut there, the job must not change.
  'jobs.enqueue': async () => {
    const video = await videoFactory.create();
    const input = { jobType: 'transcript_extraction', entityType: 'video', entityId: video.id };
    return {
      call: { procedure: 'jobs.enqueue', input, rest: { method: 'post', path: '/api/jobs', body: input } },
      lock: 'SELECT 1 FROM videos WHERE id = $1 FOR UPDATE',
      lockId: video.id,
      rows: async () => ({
        video: await videoRow(video.id),
        jobs: await db()('processing_jobs').where({ entity_id: video.id }).count('* as count'),
      }),
    };
  },
  'jobs.claim': async () => {
    const video = await videoFactory.trait('queued').create();
    const job = await processingJobFactory.create({ entityId: video.id });
    const input = { workerId: 'cut-claimer', limit: 100, leaseSeconds: 600 };
    return {
      call: {
        procedure: 'jobs.claim',
        input,
        rest: { method: 'post', path: '/api/jobs/claim', body: input },
      },
      lock: 'SELECT 1 FROM videos WHERE id = $1 FOR UPDATE',
      lockId: video.id,
      rows: async () => ({ video: await videoRow(video.id), job: await jobRow(job.id) }),
    };
  },
  'jobs.completeMany': async (api) => {
    const { video, job } = await claimedJob(api);
    const input = { jobs: [{ id: job.id, leaseToken: job.leaseToken, result: { words: 1 } }] };
    return {
      call: {
        procedure: 'jobs.completeMany',
        input,
        rest: { method: 'post', path: '/api/jobs/complete', body: input },
      },
      lock: 'SELECT 1 FROM videos WHERE id = $1 FOR UPDATE',
      lockId: video.id,
      rows: async () => ({ video: await videoRow(video.id), job: await jobRow(job.id) }),
    };
  },
  'jobs.fail': async (api) => {
    const { video, job } = await claimedJob(api);
    const body = { leaseToken: job.leaseToken, error: 'gone', retryable: false };
    return {
      call: {
        procedure: 'jobs.fail',
        input: { id: job.id, ...body },
        rest: { method: 'post', path: `/api/jobs/${job.id}/fail`, body },
      },
      lock: 'SELECT 1 FROM videos WHERE id = $1 FOR UPDATE',
      lockId: video.id,
      rows: async () => ({ video: await videoRow(video.id), job: await jobRow(job.id) }),
    };
  },
};

/** Sends the call over one transport, as its clients do. */
function send(api: FastifyInstance, transport: 'tRPC' | 'REST', { procedure, input, rest }: Call) {
  const http = request(api.server);
  if (transport === 'REST') return http[rest.method](rest.path).send(rest.body);
  return http.post(`/trpc/${procedure}`).send(superjson.serialize(input) as object);
}

/** The backend of this database that waits for a lock, once PostgreSQL shows it waiting. */
async function waitingBackend(): Promise<number> {
  let pid: number | undefined;
  await until(async () => {
    const { rows } = await db().raw<{ rows: { pid: number }[] }>(
      `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    pid = rows[0]?.pid;
    return pid !== undefined;
  });
  return pid!;
}

/**
 * Holds the lock from a connection of its own while the call runs, terminates the API's backend once it waits
 * on the lock, and returns the response; the lock is let go afterwards, as the transaction holding it rolls back.
 */
async function cutMidQuery(api: FastifyInstance, transport: 'tRPC' | 'REST', cut: Cut) {
  const side = new pg.Client({ connectionString: testDatabase().url });
  await side.connect();
  try {
    await side.query('BEGIN');
    await side.query(cut.lock, [cut.lockId]);
    // `then` sends the request now, while the lock is held.
    const response = send(api, transport, cut.call).then((result) => result);
    const pid = await waitingBackend();
    await db().raw('SELECT pg_terminate_backend(?)', [pid]);
    return await response;
  } finally {
    await side.query('ROLLBACK');
    await side.end();
  }
}

describe.each(['development', 'production'])(
  'a query whose backend is terminated while it runs, in %s',
  (mode) => {
    describe.each(['tRPC', 'REST'] as const)('over %s', (transport) => {
      it.each(Object.keys(cuts))(
        '%s gets a 503 response with retry-after and no SQL, and its rows stay as they were',
        async (procedure) => {
          const api = await appFor(mode === 'production');
          const cut = await cuts[procedure]!(api);
          const before = await cut.rows();

          const response = await cutMidQuery(api, transport, cut);

          expect(response.status, response.text).toBe(503);
          expect(response.headers['retry-after']).toBe(retryAfterSeconds);
          expect(response.text).not.toMatch(sqlText);
          const message: unknown =
            transport === 'REST' ? response.body.message : response.body.error.json.message;
          expect(message).toBe('the database is unavailable');
          expect(await cut.rows()).toEqual(before);
        },
      );
    });
  },
);
