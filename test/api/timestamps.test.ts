import request from 'supertest';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { channelFactory, videoFactory } from '../../dev/factories';
import type { Page } from '../../src/schemas/pagination';
import type { Video } from '../../src/schemas/video';
import { useApi } from '../support/api';

const api = useApi();
const http = () => request(api.app.server);

/** The moment the server's clock reads in the tests of bounds that move with it. */
const now = new Date('2026-06-01T12:00:00.000Z');
const minuteMs = 60_000;
const dayMs = 86_400_000;
const at = (ms: number) => new Date(now.getTime() + ms).toISOString();

/** Stops the server's clock at `now`: only `Date` is faked, so timers and the database run as usual. */
function stopClock(): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(now);
}
afterEach(() => void vi.useRealTimers());

/** A video's input as JSON carries it, with `overrides` on top. */
async function videoInput(overrides: Record<string, unknown> = {}) {
  const channel = await channelFactory.create();
  return { ...JSON.parse(JSON.stringify(videoFactory.build({ channelId: channel.id }))), ...overrides };
}

/** Creates a video over both transports; each response's status, and the field a rejection names. */
async function createOnBoth(overrides: Record<string, unknown>) {
  const trpc = await api.mutate('videos.create', await videoInput(overrides));
  const rest = await http()
    .post('/api/videos')
    .send(await videoInput(overrides));
  return {
    trpc: { status: trpc.status, field: trpc.error?.data.field, message: trpc.error?.message },
    rest: { status: rest.status, field: rest.body.field, message: rest.body.message },
  };
}

async function expectAccepted(overrides: Record<string, unknown>) {
  const { trpc, rest } = await createOnBoth(overrides);
  expect(trpc.status, trpc.message).toBe(200);
  expect(rest.status, rest.message).toBe(201);
}

async function expectRejected(overrides: Record<string, unknown>, field: string, message: RegExp) {
  const { trpc, rest } = await createOnBoth(overrides);
  for (const response of [trpc, rest]) {
    expect(response).toMatchObject({ status: 400, field });
    expect(response.message).toMatch(message);
  }
}

describe('timestamps', () => {
  it('reject an offset that carries a date into year 10000, which no response could carry', async () => {
    await expectRejected({ publishedAt: '9999-12-31T23:59:59-23:59' }, 'publishedAt', /publishedAt: /);
  });

  it('take a video published on the day YouTube was founded, and reject one a millisecond earlier', async () => {
    await expectAccepted({
      publishedAt: '2005-02-14T00:00:00.000Z',
      discoveredAt: '2005-02-14T00:00:00.000Z',
    });
    await expectRejected(
      { publishedAt: '2005-02-13T23:59:59.999Z' },
      'publishedAt',
      /must not be before 2005-02-14, when YouTube was founded/,
    );
    await expectRejected({ discoveredAt: '2005-02-13T23:59:59.999Z' }, 'discoveredAt', /before 2005-02-14/);
  });

  it('take a moment that has happened up to 5 minutes ahead of the server clock, and reject one a millisecond later', async () => {
    const input = await videoInput();
    stopClock();
    for (const field of ['publishedAt', 'discoveredAt']) {
      await expectAccepted({ [field]: at(5 * minuteMs) });
      await expectRejected(
        { [field]: at(5 * minuteMs + 1) },
        field,
        new RegExp(`^${field}: must not be more than 5 minutes in the future$`),
      );
    }
    const video = await api.mutate<Video>('videos.create', input);
    const stamped = await api.mutate('videos.update', {
      id: video.data.id,
      publishedAt: at(5 * minuteMs + 1),
    });
    expect(stamped.error?.data.field).toBe('publishedAt');
  });

  it('schedule a job up to 366 days ahead, and reject a millisecond later or before YouTube', async () => {
    const video = await videoFactory.create();
    const job = (runAfter: string) => ({
      jobType: 'transcript_extraction',
      entityType: 'video',
      entityId: video.id,
      runAfter,
    });
    stopClock();
    const due = await api.mutate<{ runAfter: Date }>('jobs.enqueue', job(at(366 * dayMs)));
    expect(due.status).toBe(200);
    expect(due.data.runAfter).toEqual(new Date(at(366 * dayMs)));
    for (const [runAfter, message] of [
      [at(366 * dayMs + 1), 'runAfter: must not be more than 366 days in the future'],
      ['2005-02-13T23:59:59.999Z', 'runAfter: must not be before 2005-02-14, when YouTube was founded'],
    ] as const) {
      const trpc = await api.mutate('jobs.enqueue', job(runAfter));
      expect(trpc.error).toMatchObject({ message, data: { field: 'runAfter' } });
      const rest = await http().post('/api/jobs').send(job(runAfter));
      expect(rest.body).toMatchObject({ code: 'BAD_REQUEST', message, field: 'runAfter' });
    }
  });

  it('bound list filters by what a response can carry: years 1 to 9999 in UTC, both ends', async () => {
    const filters = [
      { path: 'videos.list', rest: '/api/videos', field: 'publishedAfter' },
      { path: 'videos.list', rest: '/api/videos', field: 'publishedBefore' },
      { path: 'channels.list', rest: '/api/channels', field: 'createdAfter' },
      { path: 'jobs.list', rest: '/api/jobs', field: 'createdBefore' },
    ];
    for (const { path, rest, field } of filters) {
      for (const value of ['0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) {
        expect((await api.query(path, { [field]: value })).status, `${field} ${value}`).toBe(200);
        expect(
          (
            await http()
              .get(rest)
              .query({ [field]: value })
          ).status,
          `${field} ${value}`,
        ).toBe(200);
      }
      for (const [value, message] of [
        ['0000-12-31T23:59:59.999Z', 'must not be before year 1'],
        ['9999-12-31T23:59:59-23:59', 'must not be after year 9999 in UTC'],
      ]) {
        const trpc = await api.query(path, { [field]: value });
        expect(trpc.error).toMatchObject({ message: `${field}: ${message}`, data: { field } });
        const restResponse = await http()
          .get(rest)
          .query({ [field]: value });
        expect(restResponse.status).toBe(400);
        expect(restResponse.body).toMatchObject({ message: `${field}: ${message}`, field });
      }
    }
  });

  it('let a list page past a row at either end of what the API accepts', async () => {
    const channel = await channelFactory.create();
    stopClock();
    const edges = ['2005-02-14T00:00:00.000Z', at(5 * minuteMs)];
    for (const publishedAt of edges) {
      const created = await api.mutate('videos.create', {
        ...videoFactory.build({ channelId: channel.id }),
        publishedAt,
        discoveredAt: at(5 * minuteMs),
      });
      expect(created.status).toBe(200);
    }
    const seen: string[] = [];
    let cursor: string | null | undefined;
    do {
      const page = await api.query<Page<Video>>('videos.list', { channelId: channel.id, limit: 1, cursor });
      expect(page.status).toBe(200);
      seen.push(...page.data.items.map((video) => video.publishedAt!.toISOString()));
      cursor = page.data.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...edges].reverse());
  });
});
