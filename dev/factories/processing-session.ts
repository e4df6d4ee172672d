import type { z } from 'zod';
import { ProcessingSessionModel } from '../../src/models/processing-session';
import type { processingSessionWrite } from '../../src/schemas/processing-session';
import { Factory } from './factory';
import { laterBy } from './fake';
import { processingJobFactory } from './processing-job';
import { factoryDatabase } from './database';

export type ProcessingSessionAttrs = z.output<typeof processingSessionWrite>;

const minuteMs = 60_000;
const hourMs = 60 * minuteMs;

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
    startedAt: (attrs, { faker, now }) =>
      attrs.status === 'pending' || attrs.status === undefined
        ? null
        : faker.date.recent({ days: 3, refDate: now }),
    // A run of a minute to three hours, over by the factory's moment unless it started after it.
    completedAt: (attrs, { faker, now }) =>
      attrs.status === 'completed' || attrs.status === 'failed'
        ? laterBy(faker, new Date((attrs.startedAt ?? now).getTime() + minuteMs), 3 * hourMs - minuteMs, now)
        : null,
  },
  transient: { jobs: 0 },
  persist: (rows) => ProcessingSessionModel.query(factoryDatabase()).insert(rows).returning('*'),
  afterCreate: async (session, { transient, now }) => {
    if (transient.jobs === 0) return session;
    // A finished session takes no queued job (the database rejects one), so its jobs are finished too.
    const jobFactory =
      {
        completed: processingJobFactory.trait('completed'),
        failed: processingJobFactory.trait('exhausted'),
      }[session.status as string] ?? processingJobFactory;
    const jobs = await jobFactory.at(now).createList(transient.jobs, { sessionId: session.id });
    const saved = await session.$query(factoryDatabase()).patchAndFetch({ totalVideos: jobs.length });
    saved.jobs = jobs;
    return saved;
  },
});
