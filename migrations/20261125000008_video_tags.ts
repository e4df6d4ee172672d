import type { Knex } from 'knex';

/*
 * Videos by tag, newest published first. The GIN index on videos.tags finds a tag's videos but not in publish
 * order, so a page of a common tag walked the publish-order index and checked every video's tags in the heap
 * (30 ms at a million videos). video_tags holds one row per (video, tag) with the video's sort key, so a tag's page
 * is an index range read in order. Triggers keep it: a statement-level one adds the tags of inserted videos (COPY
 * included) in one INSERT, and a row-level one replaces a video's rows when an update changes its tags or publish
 * date; status moves, the common update, do not set those columns and do not fire it. Deleting a video deletes its
 * rows (ON DELETE CASCADE).
 */

export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    CREATE TABLE video_tags (
      video_id  uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
      tag       text NOT NULL,
      -- The videos' sort key: COALESCE(published_at, '-infinity').
      published timestamptz(3) NOT NULL,
      PRIMARY KEY (video_id, tag)
    );

    INSERT INTO video_tags (video_id, tag, published)
    SELECT DISTINCT v.id, t.tag, coalesce(v.published_at, '-infinity') FROM videos v, unnest(v.tags) AS t (tag);

    CREATE INDEX video_tags_tag_published_idx ON video_tags (tag, published DESC, video_id DESC);

    CREATE FUNCTION add_inserted_video_tags() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      INSERT INTO video_tags (video_id, tag, published)
      SELECT DISTINCT v.id, t.tag, coalesce(v.published_at, '-infinity') FROM new_videos v, unnest(v.tags) AS t (tag);
      RETURN NULL;
    END
    $$;

    CREATE FUNCTION replace_video_tags() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM video_tags WHERE video_id = NEW.id;
      INSERT INTO video_tags (video_id, tag, published)
      SELECT DISTINCT NEW.id, t.tag, coalesce(NEW.published_at, '-infinity') FROM unnest(NEW.tags) AS t (tag);
      RETURN NULL;
    END
    $$;

    CREATE TRIGGER videos_add_tags AFTER INSERT ON videos
      REFERENCING NEW TABLE AS new_videos FOR EACH STATEMENT EXECUTE FUNCTION add_inserted_video_tags();
    CREATE TRIGGER videos_replace_tags AFTER UPDATE OF tags, published_at ON videos
      FOR EACH ROW WHEN (OLD.tags IS DISTINCT FROM NEW.tags OR OLD.published_at IS DISTINCT FROM NEW.published_at)
      EXECUTE FUNCTION replace_video_tags();
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    DROP TRIGGER videos_replace_tags ON videos;
    DROP TRIGGER videos_add_tags ON videos;
    DROP FUNCTION replace_video_tags();
    DROP FUNCTION add_inserted_video_tags();
    DROP TABLE video_tags;
  `);
}
