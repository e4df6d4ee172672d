import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { functionFiles, functionFilesDir } from '../../scripts/current-sql';
import { testDatabase } from '../support/database';

const dir = path.resolve(__dirname, '..', '..', functionFilesDir);
const committed = new Map(
  readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .map((file) => [path.basename(file, '.sql'), readFileSync(path.join(dir, file), 'utf8')]),
);

let migrated: Map<string, string>;
beforeAll(async () => {
  migrated = await functionFiles(testDatabase().db);
});

describe(`${functionFilesDir}/, the current text of every function and trigger`, () => {
  it.each([...committed.keys()])('holds %s as the migrated database defines it', (name) => {
    expect(
      migrated.has(name),
      `${functionFilesDir}/${name}.sql: the migrations make no function ${name}`,
    ).toBe(true);
    expect(
      committed.get(name),
      `${functionFilesDir}/${name}.sql differs from the migrated ${name}: run npm run db:snapshot`,
    ).toBe(migrated.get(name));
  });

  it('has a file for every function the migrations make', () => {
    const withoutFile = [...migrated.keys()].filter((name) => !committed.has(name));
    expect(withoutFile, 'functions with no file: run npm run db:snapshot').toEqual([]);
  });
});
