import type { Knex } from 'knex';

/*
 * Videos belong to a channel: deleting a channel deletes its videos (ON DELETE CASCADE), since a video is only
 * ever discovered through its channel. View counts pass 2^31, hence bigint. Lists order by publish time, newest
 * first, with unpublished (NULL) last: the sort key is COALESCE(published_at, '-infinity') so that keyset
 * pagination compares one non-null value, and every list index ends in that key and the id.
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TYPE video_status AS ENUM ('discovered', 'queued', 'processing', 'completed', 'failed');

    CREATE TABLE videos (
      id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      channel_id          uuid NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
      youtube_video_id    text NOT NULL CHECK (youtube_video_id ~ '^[A-Za-z0-9_-]{11}$'),
      title               text NOT NULL CHECK (btrim(title) <> ''),
      description         text,
      duration_seconds    integer CHECK (duration_seconds >= 0),
      view_count          bigint CHECK (view_count >= 0),
      like_count          bigint CHECK (like_count >= 0),
      comment_count       bigint CHECK (comment_count >= 0),
      published_at        timestamptz(3),
      thumbnail_url       text,
      video_url           text NOT NULL,
      status              video_status NOT NULL DEFAULT 'discovered',
      processing_priority integer NOT NULL DEFAULT 0,
      metadata            jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
      tags                text[] NOT NULL DEFAULT '{}',
      discovered_at       timestamptz(3) NOT NULL DEFAULT now(),
      processed_at        timestamptz(3),
      error_message       text,
      retry_count         integer NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
      created_at          timestamptz(3) NOT NULL DEFAULT now(),
      updated_at          timestamptz(3) NOT NULL DEFAULT now(),
      CONSTRAINT videos_youtube_video_id_key UNIQUE (youtube_video_id)
    );

    CREATE INDEX videos_channel_id_published_idx
      ON videos (channel_id, (COALESCE(published_at, '-infinity')) DESC, id DESC);
    CREATE INDEX videos_channel_id_status_published_idx
      ON videos (channel_id, status, (COALESCE(published_at, '-infinity')) DESC, id DESC);
    CREATE INDEX videos_status_published_idx
      ON videos (status, (COALESCE(published_at, '-infinity')) DESC, id DESC);
    CREATE INDEX videos_published_idx ON videos ((COALESCE(published_at, '-infinity')) DESC, id DESC);
    CREATE INDEX videos_tags_idx ON videos USING gin (tags);
    CREATE INDEX videos_title_trgm_idx ON videos USING gin (title gin_trgm_ops);

    CREATE TRIGGER videos_set_updated_at BEFORE UPDATE ON videos
      FOR EACH ROW EXECUTE FUNCTION set_updated_at();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TABLE videos;
    DROP TYPE video_status;
  `);
}
