import type { z } from 'zod';
import { TranscriptModel } from '../models/transcript';
import { countWords, type transcriptWrite } from '../schemas/transcript';
import { Factory } from './factory';
import { uuidFrom } from './fake';
import { videoFactory } from './video';
import { language, transcriptText } from './youtube-data';

export type TranscriptAttrs = z.output<typeof transcriptWrite>;

/** A transcript creates its video (and that video's channel) unless `videoId` is given. */
export const transcriptFactory = new Factory<
  TranscriptAttrs,
  TranscriptModel,
  'manual' | 'auto',
  { sentences: number }
>({
  defaults: ({ faker, transient }) => {
    const content = transcriptText(faker, transient.sentences);
    return {
      videoId: uuidFrom(faker),
      content,
      language: language(faker),
      source: 'youtube_auto',
      confidenceScore: faker.number.float({ min: 0.6, max: 0.98, fractionDigits: 3 }),
      metadata: { format: 'srv3', segments: transient.sentences },
    };
  },
  traits: {
    manual: () => ({ source: 'youtube_manual', confidenceScore: 1 }),
    auto: (_attrs, { faker }) => ({
      source: 'youtube_auto',
      confidenceScore: faker.number.float({ min: 0.6, max: 0.98, fractionDigits: 3 }),
    }),
  },
  transient: { sentences: 40 },
  associate: async (_attrs, given) => (given.videoId ? {} : { videoId: (await videoFactory.create()).id }),
  // Like the API, the word count follows the content unless given, so an overridden content stays consistent.
  persist: (rows) =>
    TranscriptModel.query()
      .insert(rows.map((row) => ({ ...row, wordCount: row.wordCount ?? countWords(row.content) })))
      .returning('*'),
});
