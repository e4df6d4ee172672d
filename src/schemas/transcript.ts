import { z } from 'zod';
import { count, jsonObject, rowSchema, updateOf, uuid } from './fields';
import { createdRange, pageInput } from './pagination';

export const transcriptSources = ['youtube_auto', 'youtube_manual'] as const;
const transcriptSource = z.enum(transcriptSources);

/** A BCP-47 tag such as `en`, `pt-BR` or `zh-Hant-TW`. */
export const languageTag = z
  .string()
  .max(35)
  .regex(/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a BCP-47 language tag such as "en" or "pt-BR"');

const maxTranscriptChars = 1_000_000;

/** Every column a writer may set. Optional here means the database supplies a default. */
export const transcriptWrite = z.strictObject({
  videoId: uuid,
  content: z.string().min(1).max(maxTranscriptChars),
  language: languageTag.nullable().optional(),
  source: transcriptSource,
  confidenceScore: z.number().min(0).max(1).nullable().optional(),
  wordCount: count.nullable().optional(),
  metadata: jsonObject.optional(),
});

export const transcriptSchema = rowSchema(transcriptWrite);
export type Transcript = z.infer<typeof transcriptSchema>;

const transcriptPatch = transcriptWrite.partial();

/** Words as a reader counts them: runs of non-space characters. */
export function countWords(content: string): number {
  return content.split(/\s+/).filter(Boolean).length;
}

export const transcriptInclude = z
  .array(z.enum(['video']))
  .max(1)
  .optional();

export const createTranscriptInput = transcriptWrite;
export const updateTranscriptInput = updateOf(transcriptPatch.omit({ videoId: true }).extend({ id: uuid }));

export const listTranscriptsInput = z.strictObject({
  ...pageInput,
  ...createdRange,
  videoId: uuid.optional(),
  language: languageTag.optional(),
  source: transcriptSource.optional(),
  include: transcriptInclude,
});
export type ListTranscriptsInput = z.infer<typeof listTranscriptsInput>;
