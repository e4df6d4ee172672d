import type { Faker } from '@faker-js/faker';

/**
 * Text that reads like what TubeSensei stores: transcripts as people speak (sentences of spoken length, fillers,
 * timed segments) in English or Spanish, and descriptions as creators write them. Built from small word banks
 * with the seeded generator's cheapest draws: a million-video seed writes tens of millions of words.
 */

export type SpokenLanguage = 'en' | 'es';

/** Subjects with the verb forms that agree with them. */
interface Voice {
  subjects: readonly string[];
  modals: readonly string[];
}

interface WordBank {
  openers: readonly string[];
  voices: readonly Voice[];
  actions: readonly string[];
  determiners: readonly string[];
  adjectives: readonly string[];
  nouns: readonly string[];
  tails: readonly string[];
  fillers: readonly string[];
}

const banks: Record<SpokenLanguage, WordBank> = {
  en: {
    openers: [
      'so',
      'okay so',
      'alright',
      'now',
      'and then',
      'but',
      'right',
      'well',
      'and honestly',
      'first of all',
    ],
    voices: [
      {
        subjects: ['I'],
        modals: ['want to', 'need to', 'am going to', 'can', 'should', 'will', 'have to', 'like to'],
      },
      {
        subjects: ['we', 'you', 'they'],
        modals: ['want to', 'need to', 'are going to', 'can', 'should', 'will', 'have to', 'might'],
      },
      {
        subjects: ['this', 'it', 'my friend', 'everybody', 'the community'],
        modals: ['wants to', 'needs to', 'is going to', 'can', 'should', 'will', 'has to', 'might'],
      },
    ],
    actions: [
      'check',
      'try',
      'fix',
      'build',
      'show you',
      'look at',
      'talk about',
      'set up',
      'compare',
      'measure',
      'clean up',
      'walk through',
      'change',
      'test',
      'explain',
    ],
    determiners: ['the', 'this', 'one', 'my', 'your', 'that', 'our', 'every'],
    adjectives: [
      'new',
      'old',
      'simple',
      'tricky',
      'whole',
      'main',
      'little',
      'cheap',
      'real',
      'next',
      'best',
      'quick',
    ],
    nouns: [
      'part',
      'setup',
      'problem',
      'trick',
      'step',
      'result',
      'idea',
      'project',
      'thing',
      'version',
      'mistake',
      'question',
      'method',
      'example',
      'tool',
      'plan',
    ],
    tails: [
      'right now',
      'first',
      'in a second',
      'today',
      'again',
      'a little bit',
      'for a minute',
      'here',
      'with me',
    ],
    fillers: ['um', 'uh', 'like', 'you know', 'I mean', 'basically', 'actually', 'kind of'],
  },
  es: {
    openers: ['bueno', 'entonces', 'vale', 'pues', 'mira', 'a ver', 'y luego', 'pero', 'primero'],
    voices: [
      { subjects: ['yo'], modals: ['quiero', 'voy a', 'necesito', 'tengo que', 'puedo', 'suelo'] },
      { subjects: ['nosotros'], modals: ['queremos', 'vamos a', 'necesitamos', 'tenemos que', 'podemos'] },
      { subjects: ['tú'], modals: ['quieres', 'vas a', 'tienes que', 'puedes', 'sueles'] },
      {
        subjects: ['esto', 'mi amigo', 'todo el mundo'],
        modals: ['quiere', 'va a', 'tiene que', 'puede', 'suele'],
      },
      { subjects: [''], modals: ['hay que'] },
    ],
    actions: [
      'revisar',
      'probar',
      'arreglar',
      'construir',
      'mostrar',
      'ver',
      'comparar',
      'medir',
      'limpiar',
      'explicar',
      'cambiar',
      'preparar',
    ],
    determiners: ['el', 'este', 'un', 'mi', 'tu', 'ese', 'nuestro', 'cada'],
    adjectives: [
      'nuevo',
      'viejo',
      'sencillo',
      'principal',
      'pequeño',
      'rápido',
      'mejor',
      'siguiente',
      'típico',
    ],
    nouns: [
      'proyecto',
      'equipo',
      'truco',
      'paso',
      'resultado',
      'método',
      'problema',
      'ejemplo',
      'error',
      'detalle',
      'plan',
      'tema',
    ],
    tails: ['ahora mismo', 'primero', 'en un segundo', 'hoy', 'otra vez', 'un poquito', 'aquí', 'conmigo'],
    fillers: ['eh', 'o sea', 'este', 'digamos', 'la verdad', 'bueno', 'en plan'],
  },
};

/** The BCP-47 tags each spoken language is stored under. */
export const languageTags: Record<SpokenLanguage, readonly string[]> = {
  en: ['en', 'en', 'en', 'en-US', 'en-GB'],
  es: ['es', 'es', 'es-MX'],
};

/**
 * Words only one of the languages uses, for telling them apart (the data rules check transcripts with them):
 * its determiners, so every sentence has one.
 */
export const languageMarkers: Record<SpokenLanguage, readonly string[]> = {
  en: banks.en.determiners,
  es: banks.es.determiners,
};

const pick = (faker: Faker, words: readonly string[]) => words[faker.number.int(words.length - 1)]!;
const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

// Stryker disable StringLiteral,ConditionalExpression,EqualityOperator,ArithmeticOperator,LogicalOperator: which words a sentence draws and how it is punctuated; any draw is a valid sentence of its language (the language marker each one carries is the determiner, held by the data rules).
/** One spoken sentence: 5 to 18 words, with an opener, a filler or a tail now and then. */
function spokenSentence(faker: Faker, language: SpokenLanguage): string {
  const bank = banks[language];
  const roll = faker.number.int(99);
  const voice = bank.voices[faker.number.int(bank.voices.length - 1)]!;
  const subject = pick(faker, voice.subjects);
  let sentence = `${subject ? `${subject} ` : ''}${pick(faker, voice.modals)} ${pick(faker, bank.actions)}`;
  if (roll < 45) sentence = `${pick(faker, bank.openers)}, ${sentence}`;
  if (roll % 3 === 0) sentence += ` ${pick(faker, bank.fillers)}`;
  sentence += ` ${pick(faker, bank.determiners)}`;
  if (roll % 2 === 0) sentence += ` ${pick(faker, bank.adjectives)}`;
  sentence += ` ${pick(faker, bank.nouns)}`;
  if (roll > 60) sentence += ` ${pick(faker, bank.tails)}`;
  if (roll % 11 !== 0) return `${capitalized(sentence)}.`;
  return language === 'es' ? `¿${capitalized(sentence)}?` : `${capitalized(sentence)}?`;
}

// Stryker restore StringLiteral,ConditionalExpression,EqualityOperator,ArithmeticOperator,LogicalOperator

export interface TimedSegment {
  /** Seconds from the start of the video. */
  start: number;
  /** Seconds the segment is on screen; a transcript's segments add up to its video's duration. */
  duration: number;
  /** How many of the content's words it shows, in order: the segments' words add up to the content's. */
  words: number;
}

/** `sentences` spoken sentences in one text. */
export const spokenText = (faker: Faker, language: SpokenLanguage, sentences: number) =>
  Array.from({ length: Math.max(1, sentences) }, () => spokenSentence(faker, language)).join(' ');

const hundredths = (seconds: number) => Math.round(seconds * 100) / 100;

/** At most this many segments, so a three-hour stream's timings stay a few kilobytes of metadata. */
export const maxSegments = 400;

/**
 * The timings of a transcript's content over a video of `durationSeconds`: whole sentences per segment (several
 * when there are more than `maxSegments`), each on screen in proportion to its words, the last ending exactly at
 * the video's end.
 */
export function timedSegments(content: string, durationSeconds: number): TimedSegment[] {
  const sentences = content.split(/(?<=[.?!])\s+/).filter(Boolean);
  const perSegment = Math.ceil(sentences.length / maxSegments);
  const words: number[] = [];
  for (let index = 0; index < sentences.length; index += perSegment) {
    words.push(
      sentences
        .slice(index, index + perSegment)
        .reduce((sum, sentence) => sum + sentence.split(/\s+/).filter(Boolean).length, 0),
    );
  }
  const total = words.reduce((sum, n) => sum + n, 0);
  let spoken = 0;
  return words.map((count) => {
    const start = hundredths((durationSeconds * spoken) / total);
    spoken += count;
    return {
      start,
      duration: hundredths(hundredths((durationSeconds * spoken) / total) - start),
      words: count,
    };
  });
}

// Stryker disable all: the wording of description sentences; any wording is valid data.
/**
 * `count` written sentences for descriptions (at most four, each a different one): what the video does, in a
 * creator's words.
 */
export function writtenSentences(faker: Faker, topic: string, count: number): string {
  const bank = banks.en;
  const templates = [
    () =>
      `In this video I ${pick(faker, bank.actions)} ${pick(faker, bank.determiners)} ${pick(faker, bank.adjectives)} ${topic.toLowerCase()} ${pick(faker, bank.nouns)}.`,
    () =>
      `We ${pick(faker, bank.actions)} ${faker.number.int({ min: 2, max: 9 })} ways to get the ${pick(faker, bank.adjectives)} ${pick(faker, bank.nouns)} right.`,
    () => `If you are new to ${topic}, start with the ${pick(faker, bank.nouns)} at the end.`,
    () => `Thanks for watching, and tell me in the comments what I should ${pick(faker, bank.actions)} next.`,
  ];
  return faker.helpers
    .arrayElements(templates, Math.min(count, templates.length))
    .map((sentence) => sentence())
    .join(' ');
}

// Stryker restore all

const clock = (seconds: number) => {
  const whole = Math.floor(seconds);
  const h = Math.floor(whole / 3_600);
  const m = Math.floor((whole % 3_600) / 60);
  const s = String(whole % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
};

/** Chapter lines (`0:00 Intro`, ...) that fall inside the video; none for Shorts. */
export function chapterList(faker: Faker, durationSeconds: number): string[] {
  if (durationSeconds < 180) return [];
  const count = Math.min(8, Math.max(2, Math.floor(durationSeconds / 240)));
  const bank = banks.en;
  const lines = ['0:00 Intro'];
  for (let index = 1; index < count; index += 1) {
    const at = Math.floor((durationSeconds * index) / count);
    lines.push(`${clock(at)} ${capitalized(pick(faker, bank.adjectives))} ${pick(faker, bank.nouns)}`);
  }
  return lines;
}
