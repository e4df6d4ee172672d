import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import knex from 'knex';
import { register } from 'tsx/cjs/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsConfig } from '../../src/db/knex-config';
import { createDatabaseFromTemplate, dropDatabase } from '../support/database';

/** The one migration docs/queue.md asks for to add a job type: its row in `job_types`, nothing else. */
const addIdeaExtraction = `import type { Knex } from 'knex';

export async function up(knex: Knex): Promise<void> {
  await knex.raw("INSERT INTO job_types (name, entity_type) VALUES ('idea_extraction', 'video')");
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("DELETE FROM job_types WHERE name = 'idea_extraction'");
}
`;

let scratch: { name: string; url: string };
let folder: string;
let db: knex.Knex;
let unregister: () => void;

beforeAll(async () => {
  scratch = await createDatabaseFromTemplate('tubesensei_job_type');
  folder = await mkdtemp(path.join(os.tmpdir(), 'tubesensei-migration-'));
  await writeFile(path.join(folder, '20991231000000_idea_extraction.ts'), addIdeaExtraction);
  // knex loads the TypeScript migrations with require(), which Vite does not transform.
  unregister = register();
  db = knex({
    client: 'pg',
    connection: scratch.url,
    migrations: { ...migrationsConfig, directory: [migrationsConfig.directory as string, folder] },
  });
});

afterAll(async () => {
  await db.destroy();
  unregister();
  await rm(folder, { recursive: true, force: true });
  await dropDatabase(scratch.name);
});

const claim = async (types: string[] | null) =>
  (
    await db.raw<{ rows: { job_type: string; entity_id: string }[] }>(
      `SELECT job_type, entity_id FROM claim_jobs('w', ?::text[], 10, 60, '{queued,discovered}', '{processing}', NULL)`,
      [types],
    )
  ).rows;

describe('adding a job type', () => {
  it('takes one migration that inserts its row: jobs of it are enqueued, limited and claimed with no other change', async () => {
    const [, pending] = (await db.migrate.list()) as [unknown[], { file: string }[]];
    expect(pending.map((migration) => migration.file)).toEqual(['20991231000000_idea_extraction.ts']);
    await db.migrate.latest();

    const { rows } = await db.raw<{ rows: { id: string }[] }>(
      `WITH c AS (INSERT INTO channels (name, youtube_channel_id, channel_url)
                  VALUES ('c', 'UCaaaaaaaaaaaaaaaaaaaaaa', 'https://www.youtube.com/channel/c') RETURNING id)
       INSERT INTO videos (channel_id, youtube_video_id, title, video_url)
       SELECT c.id, v, 't', 'https://www.youtube.com/watch?v=' || v FROM c, unnest(ARRAY['aaaaaaaaaaa', 'bbbbbbbbbbb']) v
       RETURNING id`,
    );
    await db('processing_jobs').insert(
      rows.map((video) => ({ job_type: 'idea_extraction', entity_type: 'video', entity_id: video.id })),
    );
    await expect(
      db('processing_jobs').insert({
        job_type: 'idea_extraction',
        entity_type: 'channel',
        entity_id: rows[0]!.id,
      }),
    ).rejects.toThrow(/processing_jobs_job_type_fkey/);

    await db('job_types').where({ name: 'idea_extraction' }).update({ max_running: 1 });
    expect(await claim(['idea_extraction'])).toHaveLength(1);
    expect(await claim(null)).toEqual([]);
    await db('job_types').where({ name: 'idea_extraction' }).update({ max_running: null });
    expect(await claim(null)).toMatchObject([{ job_type: 'idea_extraction' }]);

    await db('processing_jobs').delete();
    await db.migrate.down();
    expect(await db('job_types').where({ name: 'idea_extraction' })).toEqual([]);
  });
});
