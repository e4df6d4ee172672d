import type { z } from 'zod';
import { ProcessingJobModel } from '../models/processing-job';
import type { processingJobWrite } from '../schemas/processing-job';
import { channelFactory } from './channel';
import { Factory } from './factory';
import { uuidFrom } from './fake';
import { videoFactory } from './video';

export type ProcessingJobAttrs = z.output<typeof processingJobWrite>;

type JobTrait = 'discovery' | 'running' | 'completed' | 'retrying' | 'exhausted' | 'cancelled';

const minutes = (n: number) => n * 60_000;

/**
 * A transcript-extraction job about a new video by default (`discovery` makes it a channel-discovery job about
 * a new channel); the entity is always a real row unless `entityId` is given.
 */
export const processingJobFactory = new Factory<ProcessingJobAttrs, ProcessingJobModel, JobTrait, object>({
  defaults: ({ faker }) => ({
    jobType: 'transcript_extraction',
    status: 'queued',
    entityType: 'video',
    entityId: uuidFrom(faker),
    priority: faker.helpers.arrayElement([0, 0, 0, 5, 10]),
    attempts: 0,
    maxAttempts: 3,
    sessionId: null,
    runAfter: faker.defaultRefDate(),
    startedAt: null,
    completedAt: null,
    errorMessage: null,
    metadata: { requestedBy: 'scheduler' },
    result: null,
    lockedBy: null,
    lockedAt: null,
    leaseToken: null,
    leaseExpiresAt: null,
  }),
  traits: {
    discovery: () => ({ jobType: 'channel_discovery', entityType: 'channel' }),
    running: (_attrs, { faker }) => {
      const lockedAt = faker.defaultRefDate();
      return {
        status: 'running',
        attempts: 1,
        startedAt: lockedAt,
        lockedBy: `worker-${faker.number.int({ min: 1, max: 16 })}`,
        lockedAt,
        leaseToken: uuidFrom(faker),
        leaseExpiresAt: new Date(lockedAt.getTime() + minutes(5)),
      };
    },
    completed: (_attrs, { faker }) => {
      const completedAt = faker.date.recent({ days: 1 });
      return {
        status: 'completed',
        attempts: 1,
        startedAt: new Date(completedAt.getTime() - faker.number.int({ min: 1_000, max: minutes(3) })),
        completedAt,
        result: { ok: true, wordCount: faker.number.int({ min: 100, max: 20_000 }) },
      };
    },
    retrying: (_attrs, { faker }) => ({
      status: 'queued',
      attempts: 1,
      errorMessage: 'Request timed out after 30000 ms',
      runAfter: new Date(faker.defaultRefDate().getTime() + minutes(2)),
    }),
    exhausted: (attrs, { faker }) => ({
      status: 'failed',
      attempts: attrs.maxAttempts ?? 3,
      errorMessage: 'Transcripts are disabled for this video',
      completedAt: faker.defaultRefDate(),
    }),
    cancelled: (_attrs, { faker }) => ({ status: 'cancelled', completedAt: faker.defaultRefDate() }),
  },
  transient: {},
  associate: async (attrs, given) => {
    if (given.entityId) return {};
    const entity =
      attrs.entityType === 'channel' ? await channelFactory.create() : await videoFactory.create();
    return { entityId: entity.id };
  },
  persist: (rows) => ProcessingJobModel.query().insert(rows).returning('*'),
});
