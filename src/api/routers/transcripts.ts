import { z } from 'zod';
import { byId, uuid } from '../../schemas/fields';
import { pageOf, transcriptWithRelations } from '../../schemas/responses';
import {
  createTranscriptInput,
  listTranscriptsInput,
  transcriptInclude,
  transcriptSchema,
  updateTranscriptInput,
} from '../../schemas/transcript';
import * as transcripts from '../../services/transcripts';
import { procedure, restRoutes, router } from '../trpc';

const route = restRoutes('transcripts');

export const transcriptsRouter = router({
  create: procedure
    .meta(route('POST', '/transcripts', 'Add a transcript to a video', 'work'))
    .input(createTranscriptInput)
    .output(transcriptSchema)
    .mutation(({ input, ctx }) => transcripts.createTranscript(ctx.db, input)),
  get: procedure
    .meta(route('GET', '/transcripts/{id}', 'Read a transcript'))
    .input(z.strictObject({ id: uuid, include: transcriptInclude }))
    .output(transcriptWithRelations)
    .query(({ input, ctx }) => transcripts.getTranscript(ctx.db, input.id, input.include)),
  list: procedure
    .meta(route('GET', '/transcripts', 'List transcripts, newest first'))
    .input(listTranscriptsInput)
    .output(pageOf(transcriptWithRelations))
    .query(({ input, ctx }) => transcripts.listTranscripts(ctx.db, input)),
  update: procedure
    .meta(route('PATCH', '/transcripts/{id}', 'Change a transcript'))
    .input(updateTranscriptInput)
    .output(transcriptSchema)
    .mutation(({ input, ctx }) => transcripts.updateTranscript(ctx.db, input)),
  delete: procedure
    .meta(route('DELETE', '/transcripts/{id}', 'Delete a transcript'))
    .input(byId)
    .output(transcriptSchema)
    .mutation(({ input, ctx }) => transcripts.deleteTranscript(ctx.db, input.id)),
});
