import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import knex from 'knex';
import { register } from 'tsx/cjs/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsConfig } from '../../src/db/knex-config';
import { ensureDatabase } from '../../src/db/provision';
import { dropDatabase } from '../support/database';
import { inject } from 'vitest';

const name = `tubesensei_migrations_${process.pid}_${Date.now()}`;
let migrator: knex.Knex;
let unregister: () => void;

beforeAll(async () => {
  // knex loads the TypeScript migrations with require(), which Vite does not transform.
  unregister = register();
  migrator = knex({
    client: 'pg',
    connection: await ensureDatabase(inject('serverUrl'), name),
    migrations: migrationsConfig,
  });
});

afterAll(async () => {
  await migrator.destroy();
  unregister();
  await dropDatabase(name);
});

/** Everything a migration can leave behind in the schema: tables, columns, indexes, constraints, functions, triggers, types. */
const catalog = async () => {
  const { rows } = await migrator.raw<{ rows: { kind: string; name: string }[] }>(`
    SELECT 'table' AS kind, tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'knex_%'
    UNION ALL SELECT 'column', table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
      FROM information_schema.columns WHERE table_schema = 'public' AND table_name NOT LIKE 'knex_%'
    UNION ALL SELECT 'index', indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename NOT LIKE 'knex_%'
    UNION ALL SELECT 'constraint', conrelid::regclass || ' ' || pg_get_constraintdef(c.oid)
      FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
      WHERE n.nspname = 'public' AND conrelid::regclass::text NOT LIKE 'knex_%'
    UNION ALL SELECT 'function', p.oid::regprocedure::text
      FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND p.prokind = 'f'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
    UNION ALL SELECT 'trigger', tgrelid::regclass || ' ' || pg_get_triggerdef(t.oid)
      FROM pg_trigger t WHERE NOT tgisinternal
    UNION ALL SELECT 'type', typname || ' ' || coalesce((SELECT string_agg(enumlabel, ',' ORDER BY enumsortorder)
                                                          FROM pg_enum WHERE enumtypid = t.oid), '')
      FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'
    ORDER BY 1, 2`);
  return rows;
};

describe('migrations', () => {
  it('each leave the catalog exactly as they found it on the way down, and the whole history runs twice', async () => {
    const empty = await catalog();
    const [, pending] = (await migrator.migrate.list()) as [unknown[], { file: string }[]];
    for (const { file } of pending) {
      const before = await catalog();
      await migrator.migrate.up();
      const after = await catalog();
      await migrator.migrate.down();
      expect(await catalog(), `${file} down`).toEqual(before);
      await migrator.migrate.up();
      expect(await catalog(), `${file} up again`).toEqual(after);
    }
    const up = await catalog();
    expect(up.filter((o) => o.kind === 'table').map((o) => o.name)).toEqual([
      'channels',
      'job_types',
      'processing_job_counts',
      'processing_jobs',
      'processing_session_job_counts',
      'processing_sessions',
      'quota_budgets',
      'quota_spends',
      'rate_keys',
      'transcripts',
      'videos',
    ]);

    await migrator.migrate.rollback(undefined, true);
    expect(await catalog()).toEqual(empty);

    await migrator.migrate.latest();
    expect(await catalog()).toEqual(up);
  });

  it('hold their own SQL: none imports another', () => {
    const folder = path.join(__dirname, '..', '..', 'migrations');
    for (const file of readdirSync(folder)) {
      const imports = [...readFileSync(path.join(folder, file), 'utf8').matchAll(/from '([^']+)'/g)].map(
        (m) => m[1],
      );
      expect(imports, file).toEqual(['knex']);
    }
  });
});
