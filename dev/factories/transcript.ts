import type { z } from 'zod';
import { TranscriptModel } from '../../src/models/transcript';
import { countWords, type transcriptWrite } from '../../src/schemas/transcript';
import { Factory } from './factory';
import { uuidFrom } from './fake';
import { type SpokenLanguage, spokenText, timedSegments } from './speech';
import { videoFactory } from './video';
import { languageTag, spokenLanguageOf } from './youtube-data';
import { factoryDatabase } from './database';

export type TranscriptAttrs = z.output<typeof transcriptWrite>;
type JsonValue = z.core.util.JSONType;

/**
 * A transcript creates its video (and that video's channel) unless `videoId` is given. Transient: `sentences`
 * spoken, over a video of `durationSeconds`, in the `spoken` language. The content is in the language its
 * `language` tag names; its timed segments (in `metadata`) add up to the video's duration and hold every word;
 * `wordCount` counts it; all three follow an overridden content.
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
    content: (attrs, { faker, transient }) =>
      spokenText(faker, spokenLanguageOf(attrs.language ?? 'en'), transient.sentences),
    metadata: (attrs, { transient }) => ({
      ...attrs.metadata,
      segments: timedSegments(attrs.content, transient.durationSeconds) as unknown as JsonValue[],
    }),
    wordCount: (attrs) => countWords(attrs.content),
  },
  transient: { sentences: 40, durationSeconds: 600, spoken: 'en' },
  associate: async (_attrs, given, { now }) =>
    given.videoId ? {} : { videoId: (await videoFactory.at(now).create()).id },
  persist: (rows) => TranscriptModel.query(factoryDatabase()).insert(rows).returning('*'),
});
