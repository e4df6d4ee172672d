import type { Knex } from 'knex';

/*
 * Channels are where discovery starts. The YouTube id is the natural key (unique and well-formed); counts
 * cannot go negative. Lists run newest first, optionally by status, and search names by substring (trigram).
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TYPE channel_status AS ENUM ('active', 'paused', 'inactive');

    CREATE TABLE channels (
      id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name               text NOT NULL CHECK (btrim(name) <> ''),
      youtube_channel_id text NOT NULL CHECK (youtube_channel_id ~ '^UC[A-Za-z0-9_-]{22}$'),
      channel_url        text NOT NULL,
      description        text,
      subscriber_count   integer CHECK (subscriber_count >= 0),
      video_count        integer CHECK (video_count >= 0),
      status             channel_status NOT NULL DEFAULT 'active',
      last_checked_at    timestamptz(3),
      metadata           jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
      processing_config  jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(processing_config) = 'object'),
      created_at         timestamptz(3) NOT NULL DEFAULT now(),
      updated_at         timestamptz(3) NOT NULL DEFAULT now(),
      CONSTRAINT channels_youtube_channel_id_key UNIQUE (youtube_channel_id)
    );

    CREATE INDEX channels_created_at_id_idx ON channels (created_at DESC, id DESC);
    CREATE INDEX channels_status_created_at_id_idx ON channels (status, created_at DESC, id DESC);
    CREATE INDEX channels_name_trgm_idx ON channels USING gin (name gin_trgm_ops);

    CREATE TRIGGER channels_set_updated_at BEFORE UPDATE ON channels
      FOR EACH ROW EXECUTE FUNCTION set_updated_at();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE channels;
    DROP TYPE channel_status;
  `);
}
