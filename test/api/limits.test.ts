import { describe, expect, it } from 'vitest';
import { channelFactory, discoveredVideos, processingJobFactory, videoFactory } from '../../dev/factories';
import { maxJsonBytes } from '../../src/schemas/fields';
import { useApi } from '../support/api';

const api = useApi();

const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

interface Limit {
  what: string;
  procedure: string;
  type: 'query' | 'mutation';
  field: string;
  limit: number;
  input: (size: number) => Promise<unknown> | unknown;
}

/** Every documented limit: the limit itself is accepted, one past it is rejected naming the field. */
const limits: Limit[] = [
  {
    what: 'page size',
    procedure: 'channels.list',
    type: 'query',
    field: 'limit',
    limit: 100,
    input: (n) => ({ limit: n }),
  },
  {
    what: 'upsert batch',
    procedure: 'videos.upsertMany',
    type: 'mutation',
    field: 'videos',
    limit: 500,
    input: async (n) => ({ channelId: (await channelFactory.create()).id, videos: discoveredVideos(n) }),
  },
  {
    what: 'enqueue batch',
    procedure: 'jobs.enqueueMany',
    type: 'mutation',
    field: 'jobs',
    limit: 500,
    input: async (n) => {
      const channel = await channelFactory.create();
      return {
        jobs: Array.from({ length: n }, () => ({
          jobType: 'channel_discovery',
          entityType: 'channel',
          entityId: channel.id,
        })),
      };
    },
  },
  {
    what: 'claim size',
    procedure: 'jobs.claim',
    type: 'mutation',
    field: 'limit',
    limit: 100,
    input: (n) => ({ workerId: 'w', limit: n, jobTypes: ['channel_discovery'] }),
  },
  {
    what: 'completeMany batch',
    procedure: 'jobs.completeMany',
    type: 'mutation',
    field: 'jobs',
    limit: 100,
    input: (n) => ({ jobs: Array.from({ length: n }, (_, i) => ({ id: uuid(i), leaseToken: uuid(i) })) }),
  },
  {
    what: 'lease',
    procedure: 'jobs.claim',
    type: 'mutation',
    field: 'leaseSeconds',
    limit: 3_600,
    input: (n) => ({ workerId: 'w', leaseSeconds: n, jobTypes: ['channel_discovery'] }),
  },
  {
    what: 'attempts',
    procedure: 'jobs.enqueue',
    type: 'mutation',
    field: 'maxAttempts',
    limit: 100,
    input: (n) => discoveryJobInput({ maxAttempts: n }),
  },
  {
    what: 'job priority',
    procedure: 'jobs.enqueue',
    type: 'mutation',
    field: 'priority',
    limit: 1_000_000,
    input: (n) => discoveryJobInput({ priority: n }),
  },
  {
    what: 'language tag of letters',
    procedure: 'transcripts.create',
    type: 'mutation',
    field: 'language',
    limit: 3,
    input: (n) => transcriptInput('e'.repeat(n)),
  },
  {
    what: 'YouTube video id',
    procedure: 'videos.create',
    type: 'mutation',
    field: 'youtubeVideoId',
    limit: 11,
    input: async (n) => ({ ...(await videoInput()), youtubeVideoId: videoIdOf(n) }),
  },
  {
    what: 'claim wait',
    procedure: 'jobs.claim',
    type: 'mutation',
    field: 'waitMs',
    limit: 30_000,
    // A job waits to be claimed, so a claim that may wait returns at once.
    input: async (n) => {
      await processingJobFactory.trait('discovery').create();
      return { workerId: 'w', waitMs: n, jobTypes: ['channel_discovery'] };
    },
  },
  {
    what: 'worker id',
    procedure: 'jobs.claim',
    type: 'mutation',
    field: 'workerId',
    limit: 200,
    input: (n) => ({ workerId: 'w'.repeat(n), jobTypes: ['channel_discovery'] }),
  },
  {
    what: 'start rate period',
    procedure: 'jobs.setTypeRate',
    type: 'mutation',
    field: 'perSeconds',
    limit: 86_400,
    input: (n) => ({ jobType: 'transcript_extraction', maxStarts: 1_000_000, perSeconds: n }),
  },
  {
    what: 'bulk sample',
    procedure: 'jobs.bulkPreview',
    type: 'query',
    field: 'sampleSize',
    limit: 50,
    input: (n) => ({ action: 'retry', sampleSize: n }),
  },
  {
    what: 'channel name',
    procedure: 'channels.create',
    type: 'mutation',
    field: 'name',
    limit: 200,
    input: (n) => ({ ...channelFactory.build(), name: 'n'.repeat(n) }),
  },
  {
    what: 'session name',
    procedure: 'sessions.create',
    type: 'mutation',
    field: 'sessionName',
    limit: 200,
    input: (n) => ({ sessionName: 's'.repeat(n), sessionType: 'manual' }),
  },
  {
    what: 'video title',
    procedure: 'videos.create',
    type: 'mutation',
    field: 'title',
    limit: 500,
    input: async (n) => ({ ...(await videoInput()), title: 't'.repeat(n) }),
  },
  {
    what: 'description',
    procedure: 'channels.create',
    type: 'mutation',
    field: 'description',
    limit: 10_000,
    input: (n) => ({ ...channelFactory.build(), description: 'd'.repeat(n) }),
  },
  {
    what: 'transcript',
    procedure: 'transcripts.create',
    type: 'mutation',
    field: 'content',
    limit: 1_000_000,
    input: async (n) => ({
      videoId: (await videoFactory.create()).id,
      source: 'youtube_auto',
      content: 'w'.repeat(n),
    }),
  },
  {
    what: 'JSON object',
    procedure: 'channels.create',
    type: 'mutation',
    field: 'metadata',
    limit: maxJsonBytes,
    // {"k":"…"} is 8 characters around the value.
    input: (n) => ({ ...channelFactory.build(), metadata: { k: 'x'.repeat(n - 8) } }),
  },
  {
    what: 'tags per video',
    procedure: 'videos.create',
    type: 'mutation',
    field: 'tags',
    limit: 100,
    input: async (n) => ({ ...(await videoInput()), tags: Array.from({ length: n }, (_, i) => `t${i}`) }),
  },
  {
    what: 'tag length',
    procedure: 'videos.create',
    type: 'mutation',
    field: 'tags.0',
    limit: 100,
    input: async (n) => ({ ...(await videoInput()), tags: ['g'.repeat(n)] }),
  },
  {
    what: 'search text',
    procedure: 'videos.list',
    type: 'query',
    field: 'search',
    limit: 200,
    input: (n) => ({ search: 'q'.repeat(n) }),
  },
  {
    what: 'tag filter',
    procedure: 'videos.list',
    type: 'query',
    field: 'tags',
    limit: 20,
    input: (n) => ({ tags: Array.from({ length: n }, (_, i) => `f${i}`) }),
  },
];

/** The least each field takes: that is accepted, one less is rejected naming the field. */
const lowerLimits: Limit[] = [
  {
    what: 'page size',
    procedure: 'channels.list',
    type: 'query',
    field: 'limit',
    limit: 1,
    input: (n) => ({ limit: n }),
  },
  {
    what: 'job priority',
    procedure: 'jobs.enqueue',
    type: 'mutation',
    field: 'priority',
    limit: -1_000_000,
    input: (n) => discoveryJobInput({ priority: n }),
  },
  {
    what: 'language tag of letters',
    procedure: 'transcripts.create',
    type: 'mutation',
    field: 'language',
    limit: 2,
    input: (n) => transcriptInput('e'.repeat(n)),
  },
  {
    what: 'YouTube video id',
    procedure: 'videos.create',
    type: 'mutation',
    field: 'youtubeVideoId',
    limit: 11,
    input: async (n) => ({ ...(await videoInput()), youtubeVideoId: videoIdOf(n) }),
  },
  {
    what: 'start rate',
    procedure: 'jobs.setTypeRate',
    type: 'mutation',
    field: 'maxStarts',
    limit: 1,
    input: (n) => ({ jobType: 'transcript_extraction', maxStarts: n, perSeconds: 1 }),
  },
  {
    what: 'breaker threshold',
    procedure: 'rateKeys.set',
    type: 'mutation',
    field: 'breakerThreshold',
    limit: 1,
    input: (n) => ({ key: 'egress:198.51.100.42', maxStarts: null, breakerThreshold: n }),
  },
];

/** A YouTube video id `length` characters long, new on each call: the factory's, cut or padded. */
const videoIdOf = (length: number) =>
  videoFactory.build().youtubeVideoId.padEnd(length, 'x').slice(0, length);

async function discoveryJobInput(fields: Record<string, unknown>) {
  return {
    jobType: 'channel_discovery',
    entityType: 'channel',
    entityId: (await channelFactory.create()).id,
    ...fields,
  };
}

async function transcriptInput(language: string) {
  return { videoId: (await videoFactory.create()).id, source: 'youtube_auto', content: 'words', language };
}

async function videoInput() {
  const channel = await channelFactory.create();
  const { channelId: _, ...video } = videoFactory.build();
  return { ...video, channelId: channel.id };
}

/** The limit itself is accepted; `past` it, the call is rejected naming the field. */
async function holdsEdge(limit: Limit, past: number): Promise<void> {
  const call = limit.type === 'query' ? api.query : api.mutate;
  const at = await call(limit.procedure, await limit.input(limit.limit));
  expect(at.error?.data.field ?? null, JSON.stringify(at.error?.message)).not.toBe(limit.field);
  expect(at.status).toBe(200);
  const beyond = await call(limit.procedure, await limit.input(past));
  expect(beyond.status).toBe(400);
  expect(beyond.error?.data.field).toBe(limit.field);
}

describe('every lower limit', () => {
  it.each(lowerLimits)('takes a $what of $limit and rejects one less, naming $field', (limit) =>
    holdsEdge(limit, limit.limit - 1),
  );

  it('takes the units a worker reports up to a million, and rejects one more before it looks for the job', async () => {
    const report = (unitsSpent: number) =>
      api.mutate('jobs.complete', { id: uuid(1), leaseToken: uuid(2), unitsSpent });
    const atLimit = await report(1_000_000);
    expect(atLimit.error?.data.field).not.toBe('unitsSpent');
    expect(atLimit.status).toBe(404);
    const over = await report(1_000_001);
    expect(over.status).toBe(400);
    expect(over.error?.data.field).toBe('unitsSpent');
  });

  it('trims a title before it checks it: only spaces is no title, and spaces around one are not kept', async () => {
    const blank = await api.mutate('videos.create', { ...(await videoInput()), title: '   ' });
    expect(blank.status).toBe(400);
    expect(blank.error?.data.field).toBe('title');
    const spaced = await api.mutate<{ title: string }>('videos.create', {
      ...(await videoInput()),
      title: '  Bread  ',
    });
    expect(spaced.data.title).toBe('Bread');
  });
});

describe('every documented limit', () => {
  it.each(limits)('takes a $what of $limit and rejects one more, naming $field', (limit) =>
    holdsEdge(limit, limit.limit + 1),
  );
});

describe('search', () => {
  it('matches %, _ and \\ literally, against decoys that differ only where a wildcard would match', async () => {
    const channel = await channelFactory.create();
    const titles = ['50% off', '500 off', 'a_b trick', 'axb trick', 'c\\d note', 'cd note'];
    for (const title of titles)
      await videoFactory.create({ channelId: channel.id, title, status: 'discovered' });
    const found = async (search: string) =>
      (
        await api.query<{ items: { title: string }[] }>('videos.list', { channelId: channel.id, search })
      ).data.items.map((video) => video.title);
    expect(await found('50%')).toEqual(['50% off']);
    expect(await found('a_b')).toEqual(['a_b trick']);
    expect(await found('c\\d')).toEqual(['c\\d note']);
    expect((await found('OFF')).sort()).toEqual(['50% off', '500 off']);
  });
});

describe('the defaults a call takes for a field it leaves out', () => {
  it('lists a page of 20, and says where the next begins', async () => {
    await channelFactory.createList(21);
    const page = await api.query<{ items: unknown[]; nextCursor: string | null }>('channels.list', {});
    expect(page.data.items).toHaveLength(20);
    expect(page.data.nextCursor).not.toBeNull();
  });

  it('claims one job, leased for five minutes', async () => {
    await processingJobFactory.trait('discovery').createList(2);
    const sentAt = Date.now();
    const claimed = await api.mutate<{ leaseExpiresAt: Date }[]>('jobs.claim', {
      workerId: 'defaults',
      jobTypes: ['channel_discovery'],
    });
    expect(claimed.data).toHaveLength(1);
    const left = claimed.data[0]!.leaseExpiresAt.getTime() - sentAt;
    expect(left).toBeGreaterThan(295_000);
    expect(left).toBeLessThanOrEqual(305_000);
  });
});
