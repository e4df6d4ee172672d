import type { Knex } from 'knex';
import type { z } from 'zod';
import { TranscriptModel } from '../models/transcript';
import type { Page } from '../schemas/pagination';
import {
  countWords,
  type createTranscriptInput,
  type ListTranscriptsInput,
  type Transcript,
  type updateTranscriptInput,
} from '../schemas/transcript';
import type { TranscriptWithRelations } from '../schemas/responses';
import { newestFirst } from './pagination';
import { rowsOf } from './rows';
import { requireParent } from './parents';

const rows = rowsOf((db) => TranscriptModel.query(db), 'transcript');

/** The word count follows the content unless the caller states it. */
export async function createTranscript(
  db: Knex,
  input: z.output<typeof createTranscriptInput>,
): Promise<Transcript> {
  return (
    await rows.insert(db, { ...input, wordCount: input.wordCount ?? countWords(input.content) })
  ).$toJson();
}

export async function getTranscript(
  db: Knex,
  id: string,
  include?: readonly 'video'[],
): Promise<TranscriptWithRelations> {
  return rows.find(db, id, include);
}

export async function listTranscripts(
  db: Knex,
  input: ListTranscriptsInput,
): Promise<Page<TranscriptWithRelations>> {
  const query = TranscriptModel.query(db);
  if (input.videoId) query.where('video_id', input.videoId);
  if (input.language) query.where('language', input.language);
  if (input.source) query.where('source', input.source);
  return newestFirst(query, input);
}

/** A video's transcripts: 404 for a video that does not exist, rather than an empty page. */
export async function listVideoTranscripts(
  db: Knex,
  input: ListTranscriptsInput & { videoId: string },
): Promise<Page<TranscriptWithRelations>> {
  await requireParent(db, 'video', input.videoId, 'videoId');
  return listTranscripts(db, input);
}

export async function updateTranscript(
  db: Knex,
  { id, ...patch }: z.output<typeof updateTranscriptInput>,
): Promise<Transcript> {
  const withCount =
    patch.content && patch.wordCount === undefined
      ? { ...patch, wordCount: countWords(patch.content) }
      : patch;
  return (await rows.patch(db, id, withCount)).$toJson();
}

export async function deleteTranscript(db: Knex, id: string): Promise<Transcript> {
  return (await rows.remove(db, id)).$toJson();
}
