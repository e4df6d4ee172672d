import { buildApp } from '../src/app';
import knex from 'knex';
async function main() {
  const db = knex({ client: 'pg', connection: 'postgres://postgres@127.0.0.1:5432/postgres' });
  const app = await buildApp({ db, logger: false, apiToken: undefined, production: false });
  for (const url of ['/openapi.json', '/docs', '/docs/', '/api/channels?limit=abc', '/api/channels?limit=5&status=nope', '/api/channels/xyz', '/api/videos?tags=a&include=channel']) {
    const r = await app.inject({ url });
    console.log(url, r.statusCode, r.body.slice(0, 300));
  }
  const r = await app.inject({ method: 'POST', url: '/api/channels', payload: { name: 'x' } });
  console.log(r.statusCode, r.body.slice(0, 400));
  await app.close(); await db.destroy();
}
main();
