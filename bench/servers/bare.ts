import { createServer } from 'node:http';
import pg from 'pg';

/**
 * The baseline: node:http and pg running the same SQL as our procedures and answering the same superjson-shaped
 * JSON, with none of tRPC, Fastify, zod or Objection in the way.
 */
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
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

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const handle = async () => {
    if (url.pathname === '/trpc/videos.get') {
      const { id } = inputOf(url);
      const { rows } = await pool.query('SELECT * FROM videos WHERE id = $1', [id]);
      return rows[0] ? reply(res, 200, { result: { data: { json: camel(rows[0]) } } }) : reply(res, 404, {});
    }
    if (url.pathname === '/trpc/videos.list') {
      const { channelId, status, limit } = inputOf(url) as {
        channelId: string;
        status: string;
        limit: number;
      };
      const { rows } = await pool.query(
        `SELECT * FROM videos WHERE channel_id = $1 AND status = $2
          ORDER BY COALESCE(published_at, '-infinity') DESC, id DESC LIMIT $3`,
        [channelId, status, limit + 1],
      );
      return reply(res, 200, {
        result: { data: { json: { items: rows.slice(0, limit).map(camel), nextCursor: null } } },
      });
    }
    if (url.pathname === '/trpc/channels.create' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const input = (JSON.parse(body) as { json: Record<string, string> }).json;
      const { rows } = await pool.query(
        'INSERT INTO channels (name, youtube_channel_id, channel_url) VALUES ($1, $2, $3) RETURNING *',
        [input.name, input.youtubeChannelId, input.channelUrl],
      );
      return reply(res, 200, { result: { data: { json: camel(rows[0]) } } });
    }
    reply(res, 404, {});
  };
  handle().catch(() => reply(res, 500, {}));
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address() as { port: number };
  process.send?.({ address: `http://127.0.0.1:${address.port}`, pid: process.pid });
});
