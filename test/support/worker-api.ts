import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { buildApp } from '../../src/app';
import { channelFactory } from '../../dev/factories';
import { PermanentJobError, type Task } from '../../src/client';
import { enqueueJobs } from '../../src/queue/job-queue';
import { testDatabase } from './database';

/**
 * The API over the test file's database, listening on a port of its own for workers to call, from before the
 * file's tests until after them. Workers take any runnable job of the database, so each test starts from an empty
 * queue. `onRequest` sees every request's URL, for tests that count calls.
 */
export function useWorkerApi(options: { onRequest?: (url: string) => void } = {}): { readonly url: string } {
  let server: FastifyInstance | undefined;
  let url: string | undefined;
  beforeAll(async () => {
    server = await buildApp({ db: testDatabase().db, logger: false, tokens: [], production: false });
    const { onRequest } = options;
    if (onRequest) server.addHook('onRequest', async (request) => onRequest(request.url));
    url = await server.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => server?.close());
  beforeEach(async () => {
    await testDatabase().db('processing_jobs').delete();
  });
  return {
    get url() {
      if (!url) throw new Error('The API listens before the tests: use its URL inside a test');
      return url;
    },
  };
}

/** `count` queued discovery jobs, one per new channel, each with `maxAttempts` attempts. */
export async function discoveryJobs(count: number, maxAttempts = 3) {
  const channels = await channelFactory.createList(count);
  return enqueueJobs(
    testDatabase().db,
    channels.map((channel) => ({
      jobType: 'channel_discovery' as const,
      entityType: 'channel' as const,
      entityId: channel.id,
      maxAttempts,
    })),
  );
}

export const jobRow = (id: string) => testDatabase().db('processing_jobs').where({ id }).first();

export const jobRows = (ids: string[]) =>
  testDatabase().db('processing_jobs').whereIn('id', ids).orderBy('id');

/** What a handler made by `handlerOfFates` does with a job. */
export type JobFate = 'snooze' | 'fail' | 'fail for good' | 'cancelled while running' | 'run until stopped';

/**
 * A discovery handler giving each job the fate named for its id, and completing any other: a snooze of ten minutes,
 * a failure to retry or for good, an admin's cancel while it runs (its result dropped, its lease lost), or running
 * until the stop aborts it and giving up as a fetch does (released).
 */
export function handlerOfFates(fates: Map<string, JobFate>): Task<'channel_discovery'> {
  return async (job, helpers) => {
    switch (fates.get(job.id)) {
      case 'snooze':
        return helpers.snooze(600, 'the premiere has not aired yet');
      case 'fail':
        throw new Error('the channel page did not load');
      case 'fail for good':
        throw new PermanentJobError('no such channel');
      case 'cancelled while running':
        await testDatabase()
          .db('processing_jobs')
          .where({ id: job.id })
          .update({ status: 'cancelled', lease_token: null, lease_expires_at: null });
        return { by: 'the worker' };
      case 'run until stopped':
        return new Promise((_, reject) =>
          helpers.signal.addEventListener('abort', () => reject(helpers.signal.reason)),
        );
      default:
        return { ok: true };
    }
  };
}
