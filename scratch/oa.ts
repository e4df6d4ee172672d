import { initTRPC } from '@trpc/server';
import { generateOpenApiDocument, type OpenApiMeta } from 'trpc-to-openapi';
import { z } from 'zod';
import { channelSchema, listChannelsInput } from '../src/schemas/channel';
const t = initTRPC.meta<OpenApiMeta>().create();
const r = t.router({
  get: t.procedure.meta({ openapi: { method: 'GET', path: '/channels/{id}' } }).input(z.strictObject({ id: z.uuid() })).output(channelSchema).query(() => { throw new Error(); }),
  list: t.procedure.meta({ openapi: { method: 'GET', path: '/channels' } }).input(listChannelsInput).output(z.object({ items: z.array(channelSchema), nextCursor: z.string().nullable() })).query(() => { throw new Error(); }),
});
console.log(JSON.stringify(generateOpenApiDocument(r, { title: 't', version: '1', baseUrl: 'http://x' }), null, 1).slice(0, 6000));
