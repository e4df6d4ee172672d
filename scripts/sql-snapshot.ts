import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/db/embedded-postgres';
import { migrationsConfig } from '../src/db/knex-config';
import { ensureDatabase } from '../src/db/provision';
import { functionFiles, functionFilesDir, schemaDump, schemaDumpFile } from './current-sql';

/**
 * `npm run db:snapshot`: migrates a throwaway database (on DATABASE_URL's server, or on an embedded PostgreSQL
 * when it is unset) and writes what it holds: one file per function under src/queue/sql/ and the schema dump.
 * `-- --check` writes nothing: it prints a diff and fails when the committed files differ from that.
 */

const root = path.resolve(__dirname, '..');

/** Every file the snapshot owns, by path from the root, with the text the migrations give it. */
async function snapshot(): Promise<Map<string, string>> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'tubesensei-sql-snapshot-'));
  const embedded = process.env.DATABASE_URL
    ? undefined
    : await startEmbeddedPostgres({ dataDir: path.join(tmp, 'pgdata'), persistent: false });
  const serverUrl = embedded?.url ?? process.env.DATABASE_URL!;
  const name = `tubesensei_snapshot_${randomBytes(4).toString('hex')}`;
  const db = knex({
    client: 'pg',
    connection: await ensureDatabase(serverUrl, name),
    migrations: migrationsConfig,
  });
  try {
    await db.migrate.latest();
    const files = new Map([[schemaDumpFile, await schemaDump(db)]]);
    for (const [fn, text] of await functionFiles(db)) files.set(`${functionFilesDir}/${fn}.sql`, text);
    return files;
  } finally {
    await db.destroy();
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
    await client.end();
    await embedded?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** The snapshot's files as committed: the dump and every .sql file of the function folder. */
function committed(): Map<string, string> {
  const dir = path.join(root, functionFilesDir);
  const sqlFiles = existsSync(dir) ? readdirSync(dir).filter((file) => file.endsWith('.sql')) : [];
  return new Map(
    [schemaDumpFile, ...sqlFiles.map((file) => `${functionFilesDir}/${file}`)]
      .filter((file) => existsSync(path.join(root, file)))
      .map((file) => [file, readFileSync(path.join(root, file), 'utf8')]),
  );
}

/** A unified diff from the committed text (or none) to the text the migrations give (or none). */
function diff(file: string, from: string | undefined, to: string | undefined): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tubesensei-sql-diff-'));
  const side = (label: string, text: string | undefined) => {
    if (text === undefined) return '/dev/null';
    writeFileSync(path.join(dir, label), text);
    return path.join(dir, label);
  };
  const result = spawnSync(
    'diff',
    ['-u', '--label', `committed/${file}`, '--label', `migrated/${file}`, side('from', from), side('to', to)],
    { encoding: 'utf8' },
  );
  rmSync(dir, { recursive: true, force: true });
  // Two empty sides print no diff: a stray empty file the migrations make nothing for.
  return result.stdout || `${file}: the migrations make no function of that name\n`;
}

async function main(): Promise<number> {
  const expected = await snapshot();
  const current = committed();
  const changed = [...new Set([...expected.keys(), ...current.keys()])]
    .sort()
    .filter((file) => expected.get(file) !== current.get(file));
  if (process.argv.includes('--check')) {
    if (changed.length === 0) {
      console.log(`${schemaDumpFile} and ${functionFilesDir}/ hold what the migrations make`);
      return 0;
    }
    for (const file of changed) process.stdout.write(diff(file, current.get(file), expected.get(file)));
    console.error(
      `\n${changed.length} file(s) differ from what the migrations make: run npm run db:snapshot`,
    );
    return 1;
  }
  mkdirSync(path.join(root, functionFilesDir), { recursive: true });
  for (const file of changed) {
    const text = expected.get(file);
    if (text === undefined) rmSync(path.join(root, file));
    else writeFileSync(path.join(root, file), text);
    console.log(`${text === undefined ? 'removed' : 'wrote'} ${file}`);
  }
  if (changed.length === 0) console.log('nothing changed');
  return 0;
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
