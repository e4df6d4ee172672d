import type { QueryBuilder } from 'objection';
import { columnOf, toColumns } from '../models/columns';
import type { Knex } from 'knex';
import type { z } from 'zod';
import { VideoModel } from '../models/video';
import type { Page } from '../schemas/pagination';
import {
  type createVideoInput,
  type ListVideosInput,
  type updateVideoInput,
  type upsertVideosInput,
  type Video,
  type VideoRef,
} from '../schemas/video';
import type { UpsertResult, VideoWithRelations } from '../schemas/responses';
import { NotFoundError } from './errors';
import { likePattern } from './like-pattern';
import { lockJobsAbout } from './lock-order';
import { keysetPage, keysetRange } from './pagination';
import { graphOf, rowsOf } from './rows';
import { retryLostRaces } from './lost-races';
import { requireParent } from './parents';

const rows = rowsOf((db) => VideoModel.query(db), 'video');

/** Newest published first, unpublished last; the expression the video indexes are built on. */
const publishedKey = `COALESCE(videos.published_at, '-infinity')`;
const publishedValue = (video: Video) => video.publishedAt?.toISOString() ?? '-infinity';

export async function createVideo(db: Knex, input: z.output<typeof createVideoInput>): Promise<Video> {
  return (await rows.insert(db, input)).$toJson();
}

export async function getVideo(db: Knex, input: VideoRef): Promise<VideoWithRelations> {
  if ('id' in input) return rows.find(db, input.id, input.include);
  const query = VideoModel.query(db).findOne({ youtube_video_id: input.youtubeVideoId });
  const graph = graphOf(input.include);
  const row = await (graph ? query.withGraphFetched(graph) : query);
  if (!row) throw new NotFoundError('video', input.youtubeVideoId, 'youtubeVideoId');
  return row;
}

export async function listVideos(db: Knex, input: ListVideosInput): Promise<Page<VideoWithRelations>> {
  const matching = (query: QueryBuilder<VideoModel, VideoModel[]>) => {
    if (input.channelId) query.where('videos.channel_id', input.channelId);
    if (input.status) query.where('videos.status', input.status);
    if (input.publishedAfter) query.where('videos.published_at', '>=', input.publishedAfter);
    if (input.publishedBefore) query.where('videos.published_at', '<', input.publishedBefore);
    if (input.tags) query.whereRaw('videos.tags @> ?::text[]', [input.tags]);
    if (input.search) query.where('videos.title', 'ilike', likePattern(input.search));
    return query;
  };
  const options = { sortKey: publishedKey, sortValue: publishedValue, idColumn: 'videos.id', ...input };
  // A tag is checked in the published-order index, which carries the tags: the page's ids come from an
  // index-only walk, and only those rows are read from the table.
  const query = input.tags
    ? VideoModel.query(db).whereIn(
        'videos.id',
        keysetRange(matching(VideoModel.query(db).select('videos.id')), options),
      )
    : matching(VideoModel.query(db));
  const graph = graphOf(input.include);
  if (graph) query.withGraphFetched(graph);
  return keysetPage(query, options);
}

/** A channel's videos: 404 for a channel that does not exist, rather than an empty page. */
export async function listChannelVideos(
  db: Knex,
  input: ListVideosInput & { channelId: string },
): Promise<Page<VideoWithRelations>> {
  await requireParent(db, 'channel', input.channelId, 'channelId');
  return listVideos(db, input);
}

/** Changes a video's own fields; its status is not one of them, as it follows its transcript job. */
export async function updateVideo(
  db: Knex,
  { id, ...patch }: z.output<typeof updateVideoInput>,
): Promise<Video> {
  return (await rows.patch(db, id, patch)).$toJson();
}

/** Deletes the video with its transcripts and the jobs about it. */
export async function deleteVideo(db: Knex, id: string): Promise<Video> {
  const row = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      await lockJobsAbout(trx, { videoIds: [id] });
      const [deleted] = await trx('videos').where({ id }).delete().returning('*');
      return deleted as Record<string, unknown> | undefined;
    }),
  );
  if (!row) throw new NotFoundError('video', id);
  return VideoModel.fromDatabaseJson(row).$toJson();
}

type UpsertedVideo = z.output<typeof upsertVideosInput>['videos'][number];

/**
 * Fields discovery refreshes when it sees a known video again, each only where the batch's item carries it: a
 * feed that sees a title and a URL must not wipe the counts and tags a full pass stored. An explicit null clears
 * a field. Status, processing history and `discoveredAt` (when the video was first seen) stay.
 */
const refreshedFields = [
  'title',
  'description',
  'durationSeconds',
  'viewCount',
  'likeCount',
  'commentCount',
  'publishedAt',
  'thumbnailUrl',
  'videoUrl',
  'metadata',
  'tags',
  'processingPriority',
] as const satisfies readonly (keyof UpsertedVideo)[];

/** `SET` values of the upsert: each field from the new row where the item carried it, else as stored. */
function refreshedValues(knex: Knex, videos: UpsertedVideo[]): Record<string, Knex.Raw> {
  const values: Record<string, Knex.Raw> = {};
  for (const field of refreshedFields) {
    const carrying = videos
      .filter((video) => video[field] !== undefined)
      .map((video) => video.youtubeVideoId);
    if (carrying.length === 0) continue;
    const name = columnOf(field);
    values[name] =
      carrying.length === videos.length
        ? knex.raw('??', [`excluded.${name}`])
        : knex.raw('CASE WHEN excluded.youtube_video_id = ANY(?::text[]) THEN ?? ELSE ?? END', [
            carrying,
            `excluded.${name}`,
            `videos.${name}`,
          ]);
  }
  return values;
}

/**
 * Inserts new videos of a channel and refreshes known ones in one statement (ON CONFLICT on the YouTube id),
 * so a repeated batch changes nothing but the refreshed fields. Rows go in YouTube id order, so concurrent
 * batches over the same videos lock them in one order. `xmax = 0` marks a row this statement inserted.
 */
export async function upsertVideos(
  db: Knex,
  { channelId, videos }: z.output<typeof upsertVideosInput>,
): Promise<UpsertResult> {
  const knex = db;
  const sorted = [...videos].sort((a, b) => (a.youtubeVideoId < b.youtubeVideoId ? -1 : 1));
  const written = await retryLostRaces(() =>
    knex('videos')
      .insert(sorted.map((video) => toColumns({ ...video, channelId })))
      .onConflict('youtube_video_id')
      .merge(refreshedValues(knex, sorted))
      .where('videos.channel_id', channelId)
      .returning<{ youtube_video_id: string; inserted: boolean }[]>([
        'youtube_video_id',
        knex.raw('(xmax = 0) AS inserted') as unknown as string,
      ]),
  );
  const inserted = written.filter((row) => row.inserted).length;
  const writtenIds = new Set(written.map((row) => row.youtube_video_id));
  return {
    inserted,
    updated: written.length - inserted,
    skipped: videos.map((video) => video.youtubeVideoId).filter((id) => !writtenIds.has(id)),
  };
}
