import { z } from 'zod';
import { uuid } from '../../schemas/fields';
import {
  createTranscriptInput,
  listTranscriptsInput,
  transcriptInclude,
  updateTranscriptInput,
} from '../../schemas/transcript';
import * as transcripts from '../../services/transcripts';
import { procedure, router } from '../trpc';

export const transcriptsRouter = router({
  create: procedure.input(createTranscriptInput).mutation(({ input }) => transcripts.createTranscript(input)),
  get: procedure
    .input(z.strictObject({ id: uuid, include: transcriptInclude }))
    .query(({ input }) => transcripts.getTranscript(input.id, input.include)),
  list: procedure.input(listTranscriptsInput).query(({ input }) => transcripts.listTranscripts(input)),
  update: procedure.input(updateTranscriptInput).mutation(({ input }) => transcripts.updateTranscript(input)),
  delete: procedure
    .input(z.strictObject({ id: uuid }))
    .mutation(({ input }) => transcripts.deleteTranscript(input.id)),
});
