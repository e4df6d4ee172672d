import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { createClient, TransportError } from '../src/client';
import { channelFactory, discoveredVideos } from '../dev/factories';
import { testDatabase } from './support/database';

const token = 'client-test-token-0123456789';
let server: FastifyInstance;
let client: ReturnType<typeof createClient>;

beforeAll(async () => {
  server = await buildApp({
    db: testDatabase().db,
    logger: false,
    tokens: [{ token, role: 'admin' }],
    production: false,
  });
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  client = createClient({ url: address, token });
});

afterAll(() => server.close());

describe('the typed client against a listening server', () => {
  it('creates a channel, upserts 500 videos, pages them by status, adds a transcript and reads the video back', async () => {
    const channel = await client.channels.create.mutate(channelFactory.build());
    const videos = discoveredVideos(500);
    const upserted = await client.videos.upsertMany.mutate({ channelId: channel.id, videos });
    expect(upserted).toEqual({ inserted: 500, updated: 0, skipped: [] });

    let seen = 0;
    let cursor: string | undefined;
    do {
      const page = await client.channels.videos.query({
        channelId: channel.id,
        status: 'discovered',
        limit: 100,
        cursor,
      });
      seen += page.items.length;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toBe(500);

    const first = await client.videos.getByYoutubeId.query({ youtubeVideoId: videos[0]!.youtubeVideoId });
    await client.transcripts.create.mutate({
      videoId: first.id,
      content: 'hello world',
      source: 'youtube_manual',
      language: 'en',
    });
    const read = await client.videos.get.query({ id: first.id, include: ['channel', 'transcripts'] });
    expect(read.channel?.name).toBe(channel.name);
    expect(read.transcripts?.[0]?.wordCount).toBe(2);
    expect(read.publishedAt).toBeInstanceOf(Date);
    expect(read.channel?.createdAt).toBeInstanceOf(Date);
    expect(read.transcripts?.[0]?.createdAt).toBeInstanceOf(Date);
  });

  it('surfaces a bad input as a BAD_REQUEST the caller can read', async () => {
    await expect(client.channels.list.query({ limit: 1_000 })).rejects.toMatchObject({
      data: { code: 'BAD_REQUEST', httpStatus: 400 },
    });
  });

  it('serves 300 parallel reads on one client, batched within what the server accepts', async () => {
    const channels = await channelFactory.createList(300);
    const read = await Promise.all(channels.map((channel) => client.channels.get.query({ id: channel.id })));
    expect(read.map((channel) => channel.id)).toEqual(channels.map((channel) => channel.id));
  });

  it('sends a waiting claim on its own, so a call made beside it is not held until the claim ends', async () => {
    const waitMs = 3_000;
    const started = performance.now();
    const claim = client.jobs.claim.mutate({ workerId: 'waiting-client', limit: 1, waitMs });
    // A mutation, as a worker's completions and renewals are: the kind of call a batch would put the claim with.
    const created = await client.channels.create.mutate(channelFactory.build());
    expect(created.id).toEqual(expect.any(String));
    expect(performance.now() - started).toBeLessThan(waitMs / 2);
    expect(await claim).toEqual([]);
  });

  it('reports a server it cannot reach as a TransportError with its code', async () => {
    const closed = await buildApp({
      db: testDatabase().db,
      logger: false,
      tokens: [],
      production: false,
    });
    const url = await closed.listen({ host: '127.0.0.1', port: 0 });
    await closed.close();
    const error = await createClient({ url })
      .channels.list.query({})
      .then(undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: 'TRANSPORT_ERROR', httpStatus: undefined });
  });

  it('is rejected without the token', async () => {
    const anonymous = createClient({
      url: `http://127.0.0.1:${(server.server.address() as { port: number }).port}`,
    });
    await expect(anonymous.channels.list.query({})).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
  });
});
