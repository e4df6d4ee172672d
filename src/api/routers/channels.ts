import { z } from 'zod';
import {
  channelByYoutubeId,
  channelSchema,
  createChannelInput,
  listChannelsInput,
  updateChannelInput,
} from '../../schemas/channel';
import { byId, uuid } from '../../schemas/fields';
import { pageOf, videoCounts, videoWithRelations } from '../../schemas/responses';
import { listVideosInput } from '../../schemas/video';
import * as channels from '../../services/channels';
import { listChannelVideos } from '../../services/videos';
import { procedure, restRoutes, router } from '../trpc';

const route = restRoutes('channels');

export const channelsRouter = router({
  create: procedure
    .meta(route('POST', '/channels', 'Add a channel'))
    .input(createChannelInput)
    .output(channelSchema)
    .mutation(({ input, ctx }) => channels.createChannel(ctx.db, input)),
  get: procedure
    .meta(route('GET', '/channels/{id}', 'Read a channel'))
    .input(byId)
    .output(channelSchema)
    .query(({ input, ctx }) => channels.getChannel(ctx.db, input)),
  getByYoutubeId: procedure
    .meta(route('GET', '/channels/youtube/{youtubeChannelId}', 'Read a channel by its YouTube id'))
    .input(channelByYoutubeId)
    .output(channelSchema)
    .query(({ input, ctx }) => channels.getChannel(ctx.db, input)),
  list: procedure
    .meta(route('GET', '/channels', 'List channels, newest first'))
    .input(listChannelsInput)
    .output(pageOf(channelSchema))
    .query(({ input, ctx }) => channels.listChannels(ctx.db, input)),
  update: procedure
    .meta(route('PATCH', '/channels/{id}', 'Change a channel'))
    .input(updateChannelInput)
    .output(channelSchema)
    .mutation(({ input, ctx }) => channels.updateChannel(ctx.db, input)),
  delete: procedure
    .meta(route('DELETE', '/channels/{id}', 'Delete a channel with its videos, transcripts and jobs'))
    .input(byId)
    .output(channelSchema)
    .mutation(({ input, ctx }) => channels.deleteChannel(ctx.db, input.id)),
  videos: procedure
    .meta(route('GET', '/channels/{channelId}/videos', "List a channel's videos, newest published first"))
    .input(listVideosInput.omit({ channelId: true }).extend({ channelId: uuid }))
    .output(pageOf(videoWithRelations))
    .query(({ input, ctx }) => listChannelVideos(ctx.db, input)),
  videoCounts: procedure
    .meta(route('GET', '/channels/{channelId}/video-counts', "Count a channel's videos per status"))
    .input(z.strictObject({ channelId: uuid }))
    .output(videoCounts)
    .query(({ input, ctx }) => channels.countChannelVideos(ctx.db, input.channelId)),
});
