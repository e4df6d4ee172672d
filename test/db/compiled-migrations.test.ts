import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import knex from 'knex';
import { register } from 'tsx/cjs/api';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CompiledMigrations, migrationsConfig } from '../../src/db/knex-config';
import { ensureDatabase } from '../../src/db/provision';
import { dropDatabase, testDatabase } from '../support/database';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');
let scratch: string;

/** What the compiled migrator, run by plain node, recorded and still has to run on a database. */
interface CompiledList {
  completed: string[];
  pending: number;
}

/** The knex configuration's compiled form in plain node, as the compiled server migrates at start-up. */
const migrator = `const knex = require('knex');
const { migrationsConfig } = require('./src/db/knex-config.js');
const db = knex({ client: 'pg', connection: process.argv[2], migrations: migrationsConfig });
(async () => {
  if (process.argv[3] === 'latest') await db.migrate.latest();
  const [completed, pending] = await db.migrate.list();
  console.log(JSON.stringify({ completed: completed.map((m) => m.name), pending: pending.length }));
  await db.destroy();
})();
`;

async function compiledList(url: string, command: 'list' | 'latest'): Promise<CompiledList> {
  const { MIGRATIONS_DIR: _copy, ...env } = process.env;
  const { stdout } = await run(process.execPath, [path.join(scratch, 'migrator.js'), url, command], {
    cwd: scratch,
    env,
  });
  return JSON.parse(stdout) as CompiledList;
}

const sourceNames = async () =>
  (await readdir(path.join(root, 'migrations'))).filter((file) => file.endsWith('.ts')).sort();

/**
 * The migrations and the knex configuration compiled with the build's settings (declarations and source maps
 * included), into a folder of the test's own: the package test rebuilds dist/ meanwhile.
 */
beforeAll(async () => {
  scratch = await mkdtemp(path.join(os.tmpdir(), 'tubesensei-compiled-'));
  await symlink(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
  await writeFile(
    path.join(scratch, 'tsconfig.json'),
    JSON.stringify({
      extends: path.join(root, 'tsconfig.build.json'),
      compilerOptions: { rootDir: root, outDir: scratch },
      include: [path.join(root, 'migrations'), path.join(root, 'src/db/knex-config.ts')],
    }),
  );
  await run(path.join(root, 'node_modules/.bin/tsc'), ['-p', scratch]);
  await writeFile(path.join(scratch, 'migrator.js'), migrator);
}, 120_000);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe('the compiled migrations', () => {
  it('find nothing pending on a database migrated from the TypeScript sources, whose names they record', async () => {
    expect(await compiledList(testDatabase().url, 'list')).toEqual({
      completed: await sourceNames(),
      pending: 0,
    });
  });

  it('are listed in order under the names of their TypeScript sources, declarations and source maps left out', async () => {
    const source = new CompiledMigrations(path.join(scratch, 'migrations'));
    const files = await source.getMigrations();
    expect(files.map((file) => source.getMigrationName(file))).toEqual(await sourceNames());
    expect(files.every((file) => file.endsWith('.js'))).toBe(true);
  });

  it('migrate an empty database so that the TypeScript sources find nothing pending on it', async () => {
    const name = `tubesensei_compiled_${process.pid}_${Date.now()}`;
    const url = await ensureDatabase(inject('serverUrl'), name);
    // knex loads the TypeScript migrations with require(), which Vite does not transform.
    const unregister = register();
    const sources = knex({ client: 'pg', connection: url, migrations: migrationsConfig });
    try {
      expect(await compiledList(url, 'latest')).toEqual({ completed: await sourceNames(), pending: 0 });
      const [completed, pending] = (await sources.migrate.list()) as [{ name: string }[], unknown[]];
      expect(completed.map((migration) => migration.name)).toEqual(await sourceNames());
      expect(pending).toEqual([]);
    } finally {
      await sources.destroy();
      unregister();
      await dropDatabase(name);
    }
  });
});
