import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { channelFactory } from '../dev/factories';
import { testDatabase } from './support/database';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
let scratch: string;
let server: FastifyInstance;
let url: string;

/**
 * A project of its own that installs the packed package, as another team's worker would. Its other dependencies
 * are this checkout's, linked one by one, so the test needs no registry.
 */
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'tubesensei-consumer-'));
  await run('npm', ['run', 'build'], { cwd: root });
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], {
    cwd: root,
  });
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  const modules = path.join(scratch, 'node_modules');
  await mkdir(path.join(modules, 'tubesensei'), { recursive: true });
  await run('tar', [
    '-xzf',
    path.join(scratch, filename),
    '-C',
    path.join(modules, 'tubesensei'),
    '--strip-components=1',
  ]);
  for (const entry of await readdir(path.join(root, 'node_modules'))) {
    if (entry.startsWith('.') || entry === 'tubesensei') continue;
    await symlink(path.join(root, 'node_modules', entry), path.join(modules, entry));
  }
  await writeFile(
    path.join(scratch, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { tubesensei: '*' } }),
  );
  await writeFile(
    path.join(scratch, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'ES2023',
        strict: true,
        skipLibCheck: true,
        outDir: 'out',
        types: ['node'],
      },
      include: ['worker.ts'],
    }),
  );
  await writeFile(
    path.join(scratch, 'worker.ts'),
    `import { createClient, TransportError } from 'tubesensei';
const api = createClient({ url: process.argv[2] ?? '' });
const page = await api.channels.list.query({ limit: 5 });
const names: string[] = page.items.map((channel) => channel.name);
// Never called: there only for the type check, where the router's types must reach this project.
const misuse = () =>
  // @ts-expect-error limit is a number
  api.channels.list.query({ limit: 'five' });
console.log(JSON.stringify({ names, transport: typeof TransportError, misuse: typeof misuse }));
`,
  );
  server = await buildApp({ db: testDatabase().db, logger: false, tokens: [], production: false });
  url = await server.listen({ host: '127.0.0.1', port: 0 });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('the package as another project installs it', () => {
  it("type-checks against the router's types and calls the API with `import { createClient } from 'tubesensei'`", async () => {
    const channel = await channelFactory.create();
    await run(path.join(root, 'node_modules/.bin/tsc'), ['-p', scratch]);
    const { stdout } = await run(process.execPath, [path.join(scratch, 'out/worker.js'), url], {
      cwd: scratch,
    });
    const response = JSON.parse(stdout) as { names: string[]; transport: string };
    expect(response.transport).toBe('function');
    expect(response.names).toContain(channel.name);
  });

  it("loads none of the server's packages or modules when a project imports the client", async () => {
    // Every module the import resolves, ESM or CommonJS, is recorded as it loads.
    const probe = `
const { registerHooks } = require('node:module');
const loaded = [];
registerHooks({ resolve: (specifier, context, next) => { const found = next(specifier, context); loaded.push(found.url); return found; } });
const client = require('tubesensei');
console.log(JSON.stringify({ exports: Object.keys(client), loaded }));
`;
    const { stdout } = await run(process.execPath, ['--input-type=commonjs', '--eval', probe], {
      cwd: scratch,
    });
    const { exports, loaded } = JSON.parse(stdout) as { exports: string[]; loaded: string[] };
    expect(exports).toEqual(expect.arrayContaining(['createClient', 'createWorker', 'TransportError']));
    expect(loaded.some((url) => url.includes('/node_modules/@trpc/client/'))).toBe(true);
    const serverPackages = loaded.filter((url) =>
      /\/node_modules\/(fastify|knex|objection|pg|@faker-js\/faker)\//.test(url),
    );
    expect(serverPackages).toEqual([]);
    const ownModules = loaded.filter((url) => url.includes('/node_modules/tubesensei/dist/'));
    expect(ownModules.length).toBeGreaterThan(0);
    expect(ownModules.filter((url) => !/\/dist\/src\/(client|worker)\//.test(url))).toEqual([]);
  });
});
