import type { Knex } from 'knex';
import type { z } from 'zod';
import { ChannelModel } from '../models/channel';
import {
  type Channel,
  type ChannelRef,
  type createChannelInput,
  type ListChannelsInput,
  type updateChannelInput,
} from '../schemas/channel';
import type { Page } from '../schemas/pagination';
import { type VideoStatus, videoStatuses } from '../schemas/video';
import type { VideoCounts } from '../schemas/responses';
import { NotFoundError } from './errors';
import { likePattern } from './like-pattern';
import { lockJobsAbout, lockVideosOfChannel } from './lock-order';
import { newestFirst } from './pagination';
import { rowsOf } from './rows';
import { retryLostRaces } from './lost-races';
import { requireParent } from './parents';

const rows = rowsOf((db) => ChannelModel.query(db), 'channel');

export async function createChannel(db: Knex, input: z.output<typeof createChannelInput>): Promise<Channel> {
  return (await rows.insert(db, input)).$toJson();
}

export async function getChannel(db: Knex, ref: ChannelRef): Promise<Channel> {
  if ('id' in ref) return rows.find(db, ref.id);
  const row = await ChannelModel.query(db).findOne({ youtube_channel_id: ref.youtubeChannelId });
  if (!row) throw new NotFoundError('channel', ref.youtubeChannelId, 'youtubeChannelId');
  return row;
}

export async function listChannels(db: Knex, input: ListChannelsInput): Promise<Page<Channel>> {
  const query = ChannelModel.query(db);
  if (input.status) query.where('status', input.status);
  if (input.search) query.where('name', 'ilike', likePattern(input.search));
  return newestFirst(query, input);
}

export async function updateChannel(
  db: Knex,
  { id, ...patch }: z.output<typeof updateChannelInput>,
): Promise<Channel> {
  return (await rows.patch(db, id, patch)).$toJson();
}

/** Deletes the channel with its videos, their transcripts and every job about them. */
export async function deleteChannel(db: Knex, id: string): Promise<Channel> {
  const row = await retryLostRaces(() =>
    db.transaction(async (trx) => {
      await lockJobsAbout(trx, { channelIds: [id], videosOfChannel: id });
      await lockVideosOfChannel(trx, id);
      const [deleted] = await trx('channels').where({ id }).delete().returning('*');
      return deleted as Record<string, unknown> | undefined;
    }),
  );
  if (!row) throw new NotFoundError('channel', id);
  return ChannelModel.fromDatabaseJson(row).$toJson();
}

/** How many of a channel's videos are in each status, from one grouped query over the channel's index. */
export async function countChannelVideos(db: Knex, channelId: string): Promise<VideoCounts> {
  await requireParent(db, 'channel', channelId, 'channelId');
  const grouped = await db('videos')
    .where('channel_id', channelId)
    .groupBy('status')
    .select<{ status: VideoStatus; count: number }[]>('status', db.raw('count(*)::int AS count'));
  const counts = Object.fromEntries(videoStatuses.map((status) => [status, 0])) as Record<
    VideoStatus,
    number
  >;
  for (const { status, count } of grouped) counts[status] = Number(count);
  return { ...counts, total: grouped.reduce((sum, { count }) => sum + Number(count), 0) };
}
