import { z } from 'zod';
import { uuid } from '../../schemas/fields';
import { listTranscriptsInput } from '../../schemas/transcript';
import {
  createVideoInput,
  getVideoInput,
  listVideosInput,
  updateVideoInput,
  upsertVideosInput,
} from '../../schemas/video';
import { listVideoTranscripts } from '../../services/transcripts';
import * as videos from '../../services/videos';
import { procedure, router } from '../trpc';

export const videosRouter = router({
  create: procedure.input(createVideoInput).mutation(({ input }) => videos.createVideo(input)),
  get: procedure.input(getVideoInput).query(({ input }) => videos.getVideo(input)),
  list: procedure.input(listVideosInput).query(({ input }) => videos.listVideos(input)),
  update: procedure.input(updateVideoInput).mutation(({ input }) => videos.updateVideo(input)),
  delete: procedure.input(z.strictObject({ id: uuid })).mutation(({ input }) => videos.deleteVideo(input.id)),
  upsertMany: procedure.input(upsertVideosInput).mutation(({ input }) => videos.upsertVideos(input)),
  transcripts: procedure
    .input(listTranscriptsInput.omit({ videoId: true }).extend({ videoId: uuid }))
    .query(({ input }) => listVideoTranscripts(input)),
});
