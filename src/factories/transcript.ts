import type { z } from 'zod';
import { TranscriptModel } from '../models/transcript';
import { countWords, type transcriptWrite } from '../schemas/transcript';
import { Factory } from './factory';
import { uuidFrom } from './fake';
import { type SpokenLanguage, spokenTranscript, type TimedSegment } from './speech';
import { videoFactory } from './video';
import { languageTag, spokenLanguageOf } from './youtube-data';

export type TranscriptAttrs = z.output<typeof transcriptWrite>;
type JsonValue = z.core.util.JSONType;

/**
 * A transcript creates its video (and that video's channel) unless `videoId` is given. Transient: `sentences`
 * spoken, over a video of `durationSeconds` (its segments add up to it), in `spoken` language. The content is
 * the segments' text in the language its `language` tag names, and `wordCount` counts it, whatever is overridden.
 */
export const transcriptFactory = new Factory<
  TranscriptAttrs,
  TranscriptModel,
  'manual' | 'auto',
  { sentences: number; durationSeconds: number; spoken: SpokenLanguage }
>({
  defaults: ({ faker, transient }) => ({
    videoId: uuidFrom(faker),
    content: '',
    language: languageTag(faker, transient.spoken),
    source: 'youtube_auto',
    confidenceScore: faker.number.float({ min: 0.6, max: 0.98, fractionDigits: 3 }),
    metadata: { format: 'json3' },
  }),
  traits: {
    manual: () => ({ source: 'youtube_manual', confidenceScore: 1 }),
    auto: (_attrs, { faker }) => ({
      source: 'youtube_auto',
      confidenceScore: faker.number.float({ min: 0.6, max: 0.98, fractionDigits: 3 }),
    }),
  },
  dependent: {
    metadata: (attrs, { faker, transient }) => {
      const { segments } = spokenTranscript(
        faker,
        spokenLanguageOf(attrs.language ?? 'en'),
        transient.sentences,
        transient.durationSeconds,
      );
      return { ...attrs.metadata, segments: segments as unknown as JsonValue[] };
    },
    content: (attrs) =>
      ((attrs.metadata?.segments ?? []) as unknown as TimedSegment[])
        .map((segment) => segment.text)
        .join(' '),
    wordCount: (attrs) => countWords(attrs.content),
  },
  transient: { sentences: 40, durationSeconds: 600, spoken: 'en' },
  associate: async (_attrs, given) => (given.videoId ? {} : { videoId: (await videoFactory.create()).id }),
  persist: (rows) => TranscriptModel.query().insert(rows).returning('*'),
});
