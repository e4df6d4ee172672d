import path from 'node:path';
import { defineConfig } from 'tsdown';

/**
 * The router's declarations name its context (the database, the request's logger) and its meta (the REST routes):
 * server types a client never reads. In the client's declarations they are the opaque types of `server-types.d.ts`,
 * so neither the server's packages nor `any` reach a project that installs the client. Every procedure's input and
 * output comes from its zod schemas, which these do not touch.
 */
const opaqueServerTypes = path.resolve(import.meta.dirname, 'server-types.d.ts');

export default defineConfig({
  entry: { index: '../../src/client/index.ts', 'worker-metrics': '../../src/worker/metrics.ts' },
  format: ['esm', 'cjs'],
  platform: 'node',
  target: 'node22',
  tsconfig: '../../tsconfig.json',
  dts: {
    resolver: 'tsc',
    compilerOptions: {
      paths: {
        knex: [opaqueServerTypes],
        fastify: [opaqueServerTypes],
        'trpc-to-openapi': [opaqueServerTypes],
      },
    },
  },
  outDir: 'dist',
});
