import { byId, uuid } from '../../schemas/fields';
import { pageOf, transcriptWithRelations, upsertResult, videoWithRelations } from '../../schemas/responses';
import { listTranscriptsInput } from '../../schemas/transcript';
import {
  createVideoInput,
  listVideosInput,
  updateVideoInput,
  upsertVideosInput,
  videoById,
  videoByYoutubeId,
  videoSchema,
} from '../../schemas/video';
import { listVideoTranscripts } from '../../services/transcripts';
import * as videos from '../../services/videos';
import { procedure, restRoutes, router } from '../trpc';

const route = restRoutes('videos');

export const videosRouter = router({
  create: procedure
    .meta(route('POST', '/videos', 'Add a video'))
    .input(createVideoInput)
    .output(videoSchema)
    .mutation(({ input, ctx }) => videos.createVideo(ctx.db, input)),
  get: procedure
    .meta(route('GET', '/videos/{id}', 'Read a video, with the relations named in `include`'))
    .input(videoById)
    .output(videoWithRelations)
    .query(({ input, ctx }) => videos.getVideo(ctx.db, input)),
  getByYoutubeId: procedure
    .meta(route('GET', '/videos/youtube/{youtubeVideoId}', 'Read a video by its YouTube id'))
    .input(videoByYoutubeId)
    .output(videoWithRelations)
    .query(({ input, ctx }) => videos.getVideo(ctx.db, input)),
  list: procedure
    .meta(route('GET', '/videos', 'List videos, newest published first'))
    .input(listVideosInput)
    .output(pageOf(videoWithRelations))
    .query(({ input, ctx }) => videos.listVideos(ctx.db, input)),
  update: procedure
    .meta(
      route(
        'PATCH',
        '/videos/{id}',
        "Change a video's own fields; its status and processing history follow its transcript job",
      ),
    )
    .input(updateVideoInput)
    .output(videoSchema)
    .mutation(({ input, ctx }) => videos.updateVideo(ctx.db, input)),
  delete: procedure
    .meta(route('DELETE', '/videos/{id}', 'Delete a video with its transcripts and jobs'))
    .input(byId)
    .output(videoSchema)
    .mutation(({ input, ctx }) => videos.deleteVideo(ctx.db, input.id)),
  upsertMany: procedure
    .meta(
      route(
        'POST',
        '/channels/{channelId}/videos',
        "Insert or refresh a batch of a channel's videos",
        'work',
      ),
    )
    .input(upsertVideosInput)
    .output(upsertResult)
    .mutation(({ input, ctx }) => videos.upsertVideos(ctx.db, input)),
  transcripts: procedure
    .meta(route('GET', '/videos/{videoId}/transcripts', "List a video's transcripts, newest first"))
    .input(listTranscriptsInput.omit({ videoId: true }).extend({ videoId: uuid }))
    .output(pageOf(transcriptWithRelations))
    .query(({ input, ctx }) => listVideoTranscripts(ctx.db, input)),
});
