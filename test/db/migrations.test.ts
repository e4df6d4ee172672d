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

const userObjects = async () => {
  const { rows } = await migrator.raw<{ rows: { kind: string; name: string }[] }>(`
    SELECT 'table' AS kind, tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'knex_%'
    UNION ALL SELECT 'type', typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
      WHERE n.nspname = 'public' AND t.typtype = 'e'
    UNION ALL SELECT 'function', proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND p.prokind = 'f' AND proname IN ('set_updated_at', 'delete_jobs_of_deleted_entity')
    ORDER BY 1, 2`);
  return rows;
};

describe('migrations', () => {
  it('run up on an empty database, fully down, and up again', async () => {
    await migrator.migrate.latest();
    const up = await userObjects();
    expect(up.filter((o) => o.kind === 'table').map((o) => o.name)).toEqual([
      'channels',
      'processing_jobs',
      'processing_session_job_counts',
      'processing_sessions',
      'transcripts',
      'videos',
    ]);

    await migrator.migrate.rollback(undefined, true);
    expect(await userObjects()).toEqual([]);

    await migrator.migrate.latest();
    expect(await userObjects()).toEqual(up);
  });
});
