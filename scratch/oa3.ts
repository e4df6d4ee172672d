import 'zod-openapi';
import { createDocument } from 'zod-openapi';
import { z } from 'zod';
const ts = z.union([z.date(), z.iso.datetime({ offset: true }).transform((t) => new Date(t))]).pipe(z.date()).meta({
  override: ({ jsonSchema }) => {
    delete jsonSchema.anyOf;
    Object.assign(jsonSchema, { type: 'string', format: 'date-time' });
  },
});
const d = createDocument({ openapi: '3.1.0', info: { title: 'x', version: '1' }, paths: { '/a': { post: { requestBody: { content: { 'application/json': { schema: z.object({ a: ts.nullable().optional() }) } } }, responses: { 200: { description: 'ok', content: { 'application/json': { schema: z.object({ b: ts }) } } } } } } } });
console.log(JSON.stringify(d.paths));
console.log(ts.parse('2024-01-01T00:00:00Z'), ts.safeParse('2024').error?.issues);
