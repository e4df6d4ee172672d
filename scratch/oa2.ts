import { createDocument } from 'zod-openapi';
import { z } from 'zod';
const ts = z.union([z.date(), z.iso.datetime({ offset: true }).transform((t) => new Date(t))]).pipe(z.date());
const ts2 = z.union([z.date(), z.iso.datetime({ offset: true }).transform((t) => new Date(t))]).pipe(z.date()).meta({ override: { type: 'string', format: 'date-time' } });
for (const s of [ts, ts2, z.date()]) {
  try {
    const d = createDocument({ openapi: '3.1.0', info: { title: 'x', version: '1' }, paths: { '/a': { post: { requestBody: { content: { 'application/json': { schema: z.object({ a: s }) } } }, responses: { 200: { description: 'ok', content: { 'application/json': { schema: z.object({ b: s }) } } } } } } } });
    console.log(JSON.stringify(d.paths));
  } catch (e) { console.log('ERR', (e as Error).message); }
}
