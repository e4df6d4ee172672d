import { resolveResponse } from '@trpc/server/http';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { appRouter } from '../../src/api/router';
import { channelFactory, videoFactory } from '../../dev/factories';
import { JobWakeups } from '../../src/queue/wakeups';
import { useApi } from '../support/api';

const token = 'a-long-enough-protocol-token';
const api = useApi({ tokens: [{ token, role: 'admin' }], production: true });
// Only waiting claims use it; none of these calls waits.
const wakeups = new JobWakeups('postgres://unused');

interface Call {
  method: 'GET' | 'POST';
  /** The procedure path, or comma-separated paths for a batch. */
  path: string;
  batch?: boolean;
  /** The raw `input` query parameter (GET) or body (POST), as a client sends it. */
  payload?: string;
  /** The `trpc-accept` header, as the streaming link sends it. */
  accept?: string;
}

const encode = (input: unknown) => JSON.stringify(superjson.serialize(input));
const batchOf = (...inputs: unknown[]) =>
  JSON.stringify(Object.fromEntries(inputs.map((input, index) => [index, superjson.serialize(input)])));

function urlOf({ method, path, batch, payload }: Call): string {
  const query = new URLSearchParams();
  if (batch) query.set('batch', '1');
  if (method === 'GET' && payload !== undefined) query.set('input', payload);
  const search = query.toString();
  return `/trpc/${path}${search ? `?${search}` : ''}`;
}

function headersOf(call: Call): Record<string, string> {
  return {
    ...(call.method === 'POST' ? { 'content-type': 'application/json' } : {}),
    authorization: `Bearer ${token}`,
    ...(call.accept ? { 'trpc-accept': call.accept } : {}),
  };
}

/** The media type without parameters: Fastify adds `charset=utf-8` to text bodies. */
const mediaType = (header: unknown) => String(header).split(';')[0];

/** What our server responds. */
async function served(call: Call) {
  const response = await api.app.inject({
    method: call.method,
    url: urlOf(call),
    headers: headersOf(call),
    ...(call.method === 'POST' && call.payload !== undefined ? { payload: call.payload } : {}),
  });
  return {
    status: response.statusCode,
    body: response.body,
    type: mediaType(response.headers['content-type']),
  };
}

/** What tRPC's own request handler responds for the same request and context. */
async function reference(call: Call) {
  const headers = headersOf(call);
  const response = await resolveResponse({
    router: appRouter,
    req: new Request(`http://localhost${urlOf(call)}`, {
      method: call.method,
      headers,
      ...(call.method === 'POST' && call.payload !== undefined ? { body: call.payload } : {}),
    }),
    path: call.path,
    error: null,
    createContext: async () => ({
      authorization: headers.authorization,
      tokens: [{ token, role: 'admin' as const }],
      production: true,
      log: api.app.log,
      wakeups,
      db: api.app.db,
    }),
  });
  return {
    status: response.status,
    body: await response.text(),
    type: mediaType(response.headers.get('content-type')),
  };
}

describe('the tRPC endpoint', () => {
  // A call without a token the API knows is rejected before the endpoint reads it (see rejected-input.test.ts).
  it("responds to every kind of plain call exactly as tRPC's own request handler does", async () => {
    const video = await videoFactory.create();
    const upsert = {
      channelId: video.channelId,
      videos: [videoFactory.build({ channelId: video.channelId })],
    };
    await api.mutate('videos.upsertMany', upsert, { authorization: `Bearer ${token}` });
    const missing = '00000000-0000-4000-8000-00000000a404';
    const calls: Call[] = [
      { method: 'GET', path: 'videos.get', payload: encode({ id: video.id }) },
      { method: 'GET', path: 'videos.get', payload: encode({ id: missing }) },
      { method: 'GET', path: 'videos.get', payload: encode({ id: 'not-a-uuid' }) },
      { method: 'GET', path: 'videos.get' },
      {
        method: 'GET',
        path: 'videos.get,channels.get',
        batch: true,
        payload: batchOf({ id: video.id }, { id: video.channelId }),
      },
      {
        method: 'GET',
        path: 'videos.get,videos.get',
        batch: true,
        payload: batchOf({ id: video.id }, { id: missing }),
      },
      {
        method: 'GET',
        path: 'videos.get,videos.get',
        batch: true,
        payload: JSON.stringify({ 0: superjson.serialize({ id: video.id }) }),
      },
      { method: 'POST', path: 'videos.upsertMany', payload: encode(upsert) },
      {
        method: 'POST',
        path: 'channels.create',
        payload: encode(channelFactory.build({ channelUrl: 'ftp://example.com' })),
      },
      {
        method: 'POST',
        path: 'videos.upsertMany,channels.create',
        batch: true,
        payload: batchOf(upsert, {}),
      },
      // A wrong method, an unknown procedure, input that is not JSON, a batch input that is not an object.
      { method: 'GET', path: 'channels.create', payload: encode({}) },
      { method: 'POST', path: 'videos.get', payload: encode({ id: video.id }) },
      { method: 'GET', path: 'videos.nothing', payload: encode({}) },
      { method: 'GET', path: 'constructor', payload: encode({}) },
      { method: 'GET', path: 'videos.get', payload: '{"json":' },
      { method: 'GET', path: 'videos.get', batch: true, payload: '7' },
      // Streaming, as httpBatchStreamLink asks for it: JSON lines, not one JSON response.
      {
        method: 'GET',
        path: 'videos.get',
        batch: true,
        payload: batchOf({ id: video.id }),
        accept: 'application/jsonl',
      },
    ];
    for (const call of calls) {
      const [ours, theirs] = [await served(call), await reference(call)];
      expect({ call, ...ours }).toEqual({ call, ...theirs });
    }
  });
});
