import { createServer } from 'node:http';
import pg from 'pg';

/**
 * The baseline: node:http and pg running the same SQL as our procedures and responding with the same JSON (in tRPC's envelope
 * at /trpc, plain at /api), with none of tRPC, Fastify, zod or Objection in the way.
 */
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DATABASE_POOL_SIZE),
});
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number.parseInt(value, 10));

const camel = (row: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries(row).map(([key, value]) => [
      key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
      value,
    ]),
  );

const reply = (res: import('node:http').ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

function inputOf(url: URL): Record<string, unknown> {
  return (JSON.parse(url.searchParams.get('input') ?? '{"json":{}}') as { json: Record<string, unknown> })
    .json;
}

/** The same three statements, responded to in tRPC's envelope or as REST (plain JSON) per the path. */
const getVideo = async (id: unknown) =>
  (await pool.query('SELECT * FROM videos WHERE id = $1', [id])).rows[0];

const listVideos = async (channelId: unknown, status: unknown, limit: number) => {
  const { rows } = await pool.query(
    `SELECT * FROM videos WHERE channel_id = $1 AND status = $2
      ORDER BY COALESCE(published_at, '-infinity') DESC, id DESC LIMIT $3`,
    [channelId, status, limit + 1],
  );
  return { items: rows.slice(0, limit).map(camel), nextCursor: null };
};

const createChannel = async (input: Record<string, string>) => {
  const { rows } = await pool.query(
    'INSERT INTO channels (name, youtube_channel_id, channel_url) VALUES ($1, $2, $3) RETURNING *',
    [input.name, input.youtubeChannelId, input.channelUrl],
  );
  return camel(rows[0]);
};

async function bodyOf(req: import('node:http').IncomingMessage): Promise<Record<string, unknown>> {
  let body = '';
  for await (const chunk of req) body += chunk;
  return JSON.parse(body) as Record<string, unknown>;
}

const trpc = (data: unknown) => ({ result: { data: { json: data } } });

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const restVideo = /^\/api\/videos\/([^/]+)$/.exec(url.pathname);
  const restList = /^\/api\/channels\/([^/]+)\/videos$/.exec(url.pathname);
  const handle = async () => {
    if (url.pathname === '/trpc/videos.get') {
      const video = await getVideo(inputOf(url).id);
      return video ? reply(res, 200, trpc(camel(video))) : reply(res, 404, {});
    }
    if (restVideo) {
      const video = await getVideo(restVideo[1]);
      return video ? reply(res, 200, camel(video)) : reply(res, 404, {});
    }
    if (url.pathname === '/trpc/videos.list') {
      const { channelId, status, limit } = inputOf(url) as {
        channelId: string;
        status: string;
        limit: number;
      };
      return reply(res, 200, trpc(await listVideos(channelId, status, limit)));
    }
    if (restList) {
      const limit = Number(url.searchParams.get('limit') ?? 20);
      return reply(res, 200, await listVideos(restList[1], url.searchParams.get('status'), limit));
    }
    if (url.pathname === '/trpc/channels.create' && req.method === 'POST') {
      const input = (await bodyOf(req)).json as Record<string, string>;
      return reply(res, 200, trpc(await createChannel(input)));
    }
    if (url.pathname === '/api/channels' && req.method === 'POST') {
      return reply(res, 200, await createChannel((await bodyOf(req)) as Record<string, string>));
    }
    reply(res, 404, {});
  };
  handle().catch(() => reply(res, 500, {}));
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.send?.({ address: `http://127.0.0.1:${address.port}`, pid: process.pid });
});
