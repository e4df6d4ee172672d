import type { z } from 'zod';
import { ProcessingSessionModel } from '../models/processing-session';
import type { processingSessionWrite } from '../schemas/processing-session';
import { Factory } from './factory';
import { processingJobFactory } from './processing-job';
import { factoryDatabase } from './database';

export type ProcessingSessionAttrs = z.output<typeof processingSessionWrite>;

/**
 * Transient: `jobs` creates that many jobs in the session after it is saved (completed ones when the session
 * is completed, failed ones when it failed, queued otherwise) and sets `totalVideos` to their number; the database counts `processedVideos`.
 */
export const processingSessionFactory = new Factory<
  ProcessingSessionAttrs,
  ProcessingSessionModel,
  'running' | 'paused' | 'completed' | 'failed',
  { jobs: number }
>({
  defaults: ({ sequence, faker }) => ({
    sessionName: `${faker.helpers.arrayElement(['Nightly', 'Backfill', 'Manual'])} run #${sequence}`,
    sessionType: 'bulk_processing',
    status: 'pending',
    totalVideos: null,
    processedVideos: 0,
    configuration: { jobTypes: ['transcript_extraction'], concurrency: 8 },
    metrics: {},
  }),
  traits: {
    running: () => ({ status: 'running' }),
    paused: () => ({ status: 'paused' }),
    completed: () => ({ status: 'completed' }),
    failed: () => ({ status: 'failed' }),
  },
  dependent: {
    startedAt: (attrs, { faker }) =>
      attrs.status === 'pending' || attrs.status === undefined ? null : faker.date.recent({ days: 3 }),
    completedAt: (attrs, { faker }) =>
      attrs.status === 'completed' || attrs.status === 'failed'
        ? new Date(
            (attrs.startedAt ?? faker.defaultRefDate()).getTime() +
              faker.number.int({ min: 60_000, max: 3 * 3_600_000 }),
          )
        : null,
  },
  transient: { jobs: 0 },
  persist: (rows) => ProcessingSessionModel.query(factoryDatabase()).insert(rows).returning('*'),
  afterCreate: async (session, { transient }) => {
    if (transient.jobs === 0) return session;
    // A finished session takes no queued job (the database refuses one), so its jobs are finished too.
    const jobFactory =
      {
        completed: processingJobFactory.trait('completed'),
        failed: processingJobFactory.trait('exhausted'),
      }[session.status as string] ?? processingJobFactory;
    const jobs = await jobFactory.createList(transient.jobs, { sessionId: session.id });
    const saved = await session.$query(factoryDatabase()).patchAndFetch({ totalVideos: jobs.length });
    saved.jobs = jobs;
    return saved;
  },
});
