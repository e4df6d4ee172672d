import type { Faker } from '@faker-js/faker';
import type { z } from 'zod';
import { ProcessingJobModel } from '../../src/models/processing-job';
import type { JobStatus, processingJobWrite } from '../../src/schemas/processing-job';
import { channelFactory } from './channel';
import { Factory } from './factory';
import { uuidFrom } from './fake';
import { videoFactory } from './video';
import { factoryDatabase } from './database';

export type ProcessingJobAttrs = z.output<typeof processingJobWrite>;

type JobTrait = 'discovery' | 'running' | 'completed' | 'retrying' | 'exhausted' | 'cancelled';

const minutes = (n: number) => n * 60_000;

/** A moment between `from` and `to` (`from` when they are the wrong way round). */
const between = (faker: Faker, from: Date, to: Date) =>
  to.getTime() <= from.getTime()
    ? from
    : new Date(faker.number.int({ min: from.getTime(), max: to.getTime() }));

const time = (at: Date | null | undefined) => (at ? at.getTime() : undefined);

const ranBefore = (status: JobStatus | undefined, attempts: number | undefined) =>
  status === 'running' || status === 'completed' || status === 'failed' || (attempts ?? 0) > 0;

/**
 * A transcript-extraction job about a new video by default (`discovery` makes it a channel-discovery job about
 * a new channel); the entity is always a real row unless `entityId` is given. Its times follow from `runAfter`
 * (when it was due) whatever is overridden: started after it was due, completed after it started, a live lease
 * from its start; a job waiting for a retry started before its `runAfter`, which is its retry time. A completed
 * job's `result` has its type's shape (`jobResults`).
 */
export const processingJobFactory = new Factory<ProcessingJobAttrs, ProcessingJobModel, JobTrait, object>({
  defaults: ({ faker, now }) => ({
    jobType: 'transcript_extraction',
    status: 'queued',
    entityType: 'video',
    entityId: uuidFrom(faker),
    priority: faker.helpers.arrayElement([0, 0, 0, 5, 10]),
    attempts: 0,
    maxAttempts: 3,
    sessionId: null,
    runAfter: new Date(now.getTime() - faker.number.int({ min: 30_000, max: minutes(10) })),
    errorMessage: null,
    metadata: { requestedBy: 'scheduler' },
    lockedBy: null,
  }),
  traits: {
    discovery: () => ({ jobType: 'channel_discovery', entityType: 'channel' }),
    running: (_attrs, { faker }) => ({
      status: 'running',
      attempts: 1,
      lockedBy: `worker-${faker.number.int({ min: 1, max: 16 })}`,
    }),
    completed: () => ({ status: 'completed', attempts: 1 }),
    retrying: (_attrs, { now }) => ({
      status: 'queued',
      attempts: 1,
      errorMessage: 'Request timed out after 30000 ms',
      runAfter: new Date(now.getTime() + minutes(2)),
    }),
    exhausted: (attrs) => ({
      status: 'failed',
      attempts: attrs.maxAttempts ?? 3,
      errorMessage: 'Transcripts are disabled for this video',
    }),
    cancelled: () => ({ status: 'cancelled' }),
  },
  dependent: {
    // A job the caller says completed was due before that.
    runAfter: (attrs, { faker }) =>
      attrs.completedAt && attrs.runAfter && attrs.completedAt < attrs.runAfter
        ? new Date(attrs.completedAt.getTime() - faker.number.int({ min: 1_000, max: minutes(3) }))
        : attrs.runAfter,
    startedAt: (attrs, { faker, now }) => {
      if (!ranBefore(attrs.status, attrs.attempts)) return null;
      const due = attrs.runAfter ?? now;
      // A retry's runAfter is when it runs again: it first started before that, by its backoff.
      if (attrs.status === 'queued') return new Date(due.getTime() - minutes(2) - faker.number.int(30_000));
      const soon = due.getTime() + faker.number.int({ min: 0, max: 30_000 });
      // A completion the caller gives bounds the start from above.
      return between(faker, due, new Date(Math.min(soon, time(attrs.completedAt) ?? soon)));
    },
    completedAt: (attrs, { faker, now }) => {
      if (attrs.status === 'completed' || attrs.status === 'failed') {
        const started = attrs.startedAt ?? attrs.runAfter ?? now;
        return new Date(started.getTime() + faker.number.int({ min: 1_000, max: minutes(3) }));
      }
      if (attrs.status === 'cancelled') {
        const last = Math.max(time(attrs.startedAt) ?? 0, time(attrs.runAfter) ?? now.getTime());
        return new Date(last + faker.number.int(60_000));
      }
      return null;
    },
    lockedAt: (attrs) => (attrs.status === 'running' ? (attrs.startedAt ?? null) : null),
    leaseToken: (attrs, { faker }) => (attrs.status === 'running' ? uuidFrom(faker) : null),
    leaseExpiresAt: (attrs) =>
      attrs.status === 'running' && attrs.lockedAt ? new Date(attrs.lockedAt.getTime() + minutes(15)) : null,
    lockedBy: (attrs) => (attrs.status === 'running' ? attrs.lockedBy : null),
    result: (attrs, { faker }): ProcessingJobAttrs['result'] => {
      if (attrs.status !== 'completed') return null;
      if (attrs.jobType === 'channel_discovery') {
        const videosFound = faker.number.int({ min: 0, max: 50 });
        return { videosFound, newVideos: faker.number.int({ min: 0, max: Math.min(3, videosFound) }) };
      }
      return { wordCount: faker.number.int({ min: 100, max: 20_000 }), language: 'en' };
    },
  },
  transient: {},
  associate: async (attrs, given, { now }) => {
    if (given.entityId) return {};
    const entity =
      attrs.entityType === 'channel'
        ? await channelFactory.at(now).create()
        : await videoFactory.at(now).create();
    return { entityId: entity.id };
  },
  persist: (rows) => ProcessingJobModel.query(factoryDatabase()).insert(rows).returning('*'),
});
