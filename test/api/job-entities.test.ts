import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { processingJobFactory, processingSessionFactory } from '../../dev/factories';
import type { ProcessingJob } from '../../src/schemas/processing-job';
import type { JobEntity } from '../../src/schemas/responses';
import { useApi } from '../support/api';

const api = useApi();

describe('a job’s entity', () => {
  it('is the video a transcript job is about', async () => {
    const job = await processingJobFactory.create();
    const entity = await api.query<JobEntity>('jobs.entity', { id: job.id });
    expect(entity.status).toBe(200);
    expect(entity.data).toMatchObject({ entityType: 'video', video: { id: job.entityId } });
  });

  it.each([
    ['channel', processingJobFactory.trait('discovery')],
    ['video', processingJobFactory],
  ] as const)(
    'is rejected with 404 naming entityId when the job’s %s is not there',
    async (entityType, factory) => {
      const job = await factory.create({ entityId: randomUUID() });
      const entity = await api.query('jobs.entity', { id: job.id });
      expect(entity.status).toBe(404);
      expect(entity.error?.data.field).toBe('entityId');
      expect(entity.error?.message).toBe(`${entityType} ${job.entityId} not found`);
    },
  );

  it('is rejected with 404 naming the job when there is no such job', async () => {
    const id = randomUUID();
    const entity = await api.query('jobs.entity', { id });
    expect(entity.status).toBe(404);
    expect(entity.error?.message).toBe(`job ${id} not found`);
  });
});

describe('moving a job to a session', () => {
  it('moves a queued job into a running session', async () => {
    const [job, session] = await Promise.all([
      processingJobFactory.create(),
      processingSessionFactory.trait('running').create(),
    ]);
    const moved = await api.mutate<ProcessingJob>('jobs.update', { id: job.id, sessionId: session.id });
    expect(moved.status).toBe(200);
    expect(moved.data).toMatchObject({ id: job.id, sessionId: session.id, status: 'queued' });
  });

  it('is rejected with 404 naming the job when there is no such job', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const id = randomUUID();
    const moved = await api.mutate('jobs.update', { id, sessionId: session.id });
    expect(moved.status).toBe(404);
    expect(moved.error?.message).toBe(`job ${id} not found`);
  });
});
