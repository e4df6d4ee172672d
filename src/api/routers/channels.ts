import { z } from 'zod';
import { channelRef, createChannelInput, listChannelsInput, updateChannelInput } from '../../schemas/channel';
import { uuid } from '../../schemas/fields';
import { listVideosInput } from '../../schemas/video';
import * as channels from '../../services/channels';
import { listChannelVideos } from '../../services/videos';
import { procedure, router } from '../trpc';

export const channelsRouter = router({
  create: procedure.input(createChannelInput).mutation(({ input }) => channels.createChannel(input)),
  get: procedure.input(channelRef).query(({ input }) => channels.getChannel(input)),
  list: procedure.input(listChannelsInput).query(({ input }) => channels.listChannels(input)),
  update: procedure.input(updateChannelInput).mutation(({ input }) => channels.updateChannel(input)),
  delete: procedure
    .input(z.strictObject({ id: uuid }))
    .mutation(({ input }) => channels.deleteChannel(input.id)),
  videos: procedure
    .input(listVideosInput.omit({ channelId: true }).extend({ channelId: uuid }))
    .query(({ input }) => listChannelVideos(input)),
  videoCounts: procedure
    .input(z.strictObject({ channelId: uuid }))
    .query(({ input }) => channels.countChannelVideos(input.channelId)),
});
