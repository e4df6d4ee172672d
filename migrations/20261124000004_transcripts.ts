import type { Knex } from 'knex';

/*
 * A video has transcripts, at most one per language and source (NULLS NOT DISTINCT: an unknown language
 * counts once). Deleting a video deletes its transcripts (ON DELETE CASCADE): they mean nothing without it.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TYPE transcript_source AS ENUM ('youtube_auto', 'youtube_manual');

    CREATE TABLE transcripts (
      id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      video_id         uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
      content          text NOT NULL CHECK (content <> ''),
      language         text,
      source           transcript_source NOT NULL,
      confidence_score real CHECK (confidence_score BETWEEN 0 AND 1),
      word_count       integer CHECK (word_count >= 0),
      metadata         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
      created_at       timestamptz(3) NOT NULL DEFAULT now(),
      updated_at       timestamptz(3) NOT NULL DEFAULT now(),
      CONSTRAINT transcripts_video_id_language_source_key UNIQUE NULLS NOT DISTINCT (video_id, language, source)
    );

    CREATE INDEX transcripts_video_id_created_at_idx ON transcripts (video_id, created_at DESC, id DESC);
    CREATE INDEX transcripts_created_at_id_idx ON transcripts (created_at DESC, id DESC);

    CREATE TRIGGER transcripts_set_updated_at BEFORE UPDATE ON transcripts
      FOR EACH ROW EXECUTE FUNCTION set_updated_at();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE transcripts;
    DROP TYPE transcript_source;
  `);
}
