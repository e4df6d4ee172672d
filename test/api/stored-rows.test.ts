import request from 'supertest';
import { describe, expect, it } from 'vitest';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  videoFactory,
} from '../../dev/factories';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const api = useApi();
const http = () => request(api.app.server);
const db = () => testDatabase().db;

/**
 * An hour past the database's clock: what a database whose clock runs an hour ahead of the API host's stamps as
 * "now", and so past the few minutes a write may run ahead.
 */
const anHourAhead = () => db().raw("now() + interval '1 hour'");

/** Longer than a write may send today: a row written before the limit was tightened. */
const overLong = (limit: number) => 'x'.repeat(limit + 1);

/** Each field of `expected` as tRPC carries it (dates as dates) and as REST does (dates as ISO strings). */
function expectFields(
  trpc: { status: number; data: unknown },
  rest: { status: number; body: unknown },
  expected: Record<string, unknown>,
) {
  expect(trpc.status).toBe(200);
  expect(rest.status).toBe(200);
  expect(trpc.data).toMatchObject(expected);
  expect(rest.body).toMatchObject(JSON.parse(JSON.stringify(expected)));
}

describe('rows the write rules would reject today', () => {
  it('are read back with 200 and their values over both transports, for videos.get and videos.list', async () => {
    const channel = await channelFactory.create();
    const video = await videoFactory.create({ channelId: channel.id });
    const [row] = await db()('videos')
      .where({ id: video.id })
      .update({
        published_at: anHourAhead(),
        discovered_at: anHourAhead(),
        processed_at: anHourAhead(),
        title: `  ${overLong(500)}  `,
      })
      .returning(['published_at', 'discovered_at', 'processed_at', 'title']);
    const expected = {
      id: video.id,
      publishedAt: row.published_at,
      discoveredAt: row.discovered_at,
      processedAt: row.processed_at,
      title: row.title,
    };
    expectFields(
      await api.query('videos.get', { id: video.id }),
      await http().get(`/api/videos/${video.id}`),
      expected,
    );
    const trpcPage = await api.query<{ items: unknown[] }>('videos.list', { channelId: channel.id });
    const restPage = await http().get('/api/videos').query({ channelId: channel.id });
    expectFields(
      { status: trpcPage.status, data: trpcPage.data.items[0] },
      { status: restPage.status, body: restPage.body.items[0] },
      expected,
    );
  });

  it('are read back with 200 and their values over both transports, for channels.get and channels.list', async () => {
    const channel = await channelFactory.create();
    const name = ` ${channel.youtubeChannelId} ${overLong(200)} `;
    const [row] = await db()('channels')
      .where({ id: channel.id })
      .update({ last_checked_at: anHourAhead(), name, description: overLong(10_000) })
      .returning(['last_checked_at']);
    const expected = { id: channel.id, lastCheckedAt: row.last_checked_at, name };
    expectFields(
      await api.query('channels.get', { id: channel.id }),
      await http().get(`/api/channels/${channel.id}`),
      expected,
    );
    const trpcPage = await api.query<{ items: unknown[] }>('channels.list', {
      search: channel.youtubeChannelId,
    });
    const restPage = await http().get('/api/channels').query({ search: channel.youtubeChannelId });
    expectFields(
      { status: trpcPage.status, data: trpcPage.data.items[0] },
      { status: restPage.status, body: restPage.body.items[0] },
      expected,
    );
  });

  it('are read back with 200 and their values over both transports, for jobs.get and jobs.list', async () => {
    const job = await processingJobFactory.trait('completed').create();
    const [row] = await db()('processing_jobs')
      .where({ id: job.id })
      .update({
        started_at: anHourAhead(),
        completed_at: anHourAhead(),
        locked_at: anHourAhead(),
        run_after: db().raw("now() + interval '2 years'"),
        error_message: overLong(10_000),
      })
      .returning(['started_at', 'completed_at', 'locked_at', 'run_after', 'error_message']);
    const expected = {
      id: job.id,
      startedAt: row.started_at,
      completedAt: row.completed_at,
      lockedAt: row.locked_at,
      runAfter: row.run_after,
      errorMessage: row.error_message,
    };
    expectFields(
      await api.query('jobs.get', { id: job.id }),
      await http().get(`/api/jobs/${job.id}`),
      expected,
    );
    const trpcPage = await api.query<{ items: unknown[] }>('jobs.list', { entityId: job.entityId });
    const restPage = await http().get('/api/jobs').query({ entityId: job.entityId });
    expectFields(
      { status: trpcPage.status, data: trpcPage.data.items[0] },
      { status: restPage.status, body: restPage.body.items[0] },
      expected,
    );
  });

  it('are claimed with 200 and their values over both transports, for jobs.claim', async () => {
    const session = await processingSessionFactory.trait('running').create();
    const claimable = async () => {
      const job = await processingJobFactory.create({ sessionId: session.id, priority: 1_000_000 });
      const [row] = await db()('processing_jobs')
        .where({ id: job.id })
        .update({
          requeued_at: anHourAhead(),
          requeued_by: 'admin',
          requeue_reason: overLong(1_000),
          requeued_from: 'worker-gone',
        })
        .returning(['requeued_at', 'requeue_reason']);
      return { id: job.id, requeuedAt: row.requeued_at, requeueReason: row.requeue_reason };
    };
    const claim = { workerId: 'worker-a', limit: 100, leaseSeconds: 60 };
    const first = await claimable();
    const trpc = await api.mutate<{ id: string }[]>('jobs.claim', claim);
    const second = await claimable();
    const rest = await http().post('/api/jobs/claim').send(claim);
    expect(trpc.status).toBe(200);
    expect(rest.status).toBe(200);
    expect(trpc.data).toEqual([expect.objectContaining(first)]);
    expect(rest.body).toEqual([expect.objectContaining(JSON.parse(JSON.stringify(second)))]);
  });
});
