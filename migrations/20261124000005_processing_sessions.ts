import type { Knex } from 'knex';

/*
 * A session groups the jobs of one bulk run and reports its progress. `pending` precedes the specification's
 * four statuses so that a session can exist before it starts.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TYPE session_type AS ENUM ('bulk_processing', 'manual');
    CREATE TYPE session_status AS ENUM ('pending', 'running', 'paused', 'completed', 'failed');

    CREATE TABLE processing_sessions (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      session_name     text NOT NULL CHECK (btrim(session_name) <> ''),
      session_type     session_type NOT NULL,
      status           session_status NOT NULL DEFAULT 'pending',
      total_videos     integer CHECK (total_videos >= 0),
      processed_videos integer NOT NULL DEFAULT 0 CHECK (processed_videos >= 0),
      started_at       timestamptz(3),
      completed_at     timestamptz(3),
      configuration    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(configuration) = 'object'),
      metrics          jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metrics) = 'object'),
      created_at       timestamptz(3) NOT NULL DEFAULT now(),
      updated_at       timestamptz(3) NOT NULL DEFAULT now()
    );

    CREATE INDEX processing_sessions_created_at_id_idx ON processing_sessions (created_at DESC, id DESC);
    CREATE INDEX processing_sessions_status_created_at_id_idx
      ON processing_sessions (status, created_at DESC, id DESC);

    CREATE TRIGGER processing_sessions_set_updated_at BEFORE UPDATE ON processing_sessions
      FOR EACH ROW EXECUTE FUNCTION set_updated_at();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE processing_sessions;
    DROP TYPE session_status;
    DROP TYPE session_type;
  `);
}
