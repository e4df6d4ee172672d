import type { Faker } from '@faker-js/faker';

/** Generators for values that read like YouTube's, with the distributions real channels show. */

const idAlphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Fixed-width base-64 digits of a sequence number: the unique part of a generated YouTube id. */
function sequenceDigits(sequence: number, width: number): string {
  let digits = '';
  let rest = sequence;
  for (let i = 0; i < width; i += 1) {
    digits = idAlphabet[rest % 64] + digits;
    rest = Math.floor(rest / 64);
  }
  return digits;
}

function randomDigits(faker: Faker, length: number): string {
  let out = '';
  for (let i = 0; i < length; i += 1) out += idAlphabet[faker.number.int({ min: 0, max: 63 })];
  return out;
}

/** `UC` + 22 characters; unique per sequence number. */
export const youtubeChannelIdFor = (sequence: number, faker: Faker) =>
  `UC${randomDigits(faker, 17)}${sequenceDigits(sequence, 5)}`;

/** 11 characters; unique per sequence number (up to 64^5, about a billion). */
export const youtubeVideoIdFor = (sequence: number, faker: Faker) =>
  `${randomDigits(faker, 6)}${sequenceDigits(sequence, 5)}`;

export const channelUrlFor = (youtubeChannelId: string) =>
  `https://www.youtube.com/channel/${youtubeChannelId}`;
export const videoUrlFor = (youtubeVideoId: string) => `https://www.youtube.com/watch?v=${youtubeVideoId}`;
export const thumbnailUrlFor = (youtubeVideoId: string) =>
  `https://i.ytimg.com/vi/${youtubeVideoId}/hqdefault.jpg`;

const topics = [
  'TypeScript',
  'PostgreSQL',
  'Rust',
  'Home Espresso',
  'Sourdough',
  'Woodworking',
  'Budget Travel',
  'Street Photography',
  'Marathon Training',
  'Indie Game Dev',
  'Personal Finance',
  'Guitar',
  'Vegan Cooking',
  'Machine Learning',
  'Mechanical Keyboards',
  'Urban Gardening',
  'Chess Openings',
  'Synthwave Production',
  'Film Photography',
  'Climbing',
];

export function channelName(faker: Faker): string {
  const pattern = faker.number.int({ min: 0, max: 3 });
  const topic = faker.helpers.arrayElement(topics);
  if (pattern === 0) return `${faker.person.firstName()} ${topic}`;
  if (pattern === 1) return `${topic} with ${faker.person.firstName()}`;
  if (pattern === 2) return `The ${topic} Lab`;
  return `${faker.company.name()} ${topic}`;
}

const titles: ((faker: Faker, topic: string) => string)[] = [
  (_, topic) => `${topic} for Beginners: Everything You Need to Know`,
  (_, topic) => `I Tried ${topic} for 30 Days (Honest Results)`,
  (faker, topic) => `Top ${faker.number.int({ min: 5, max: 15 })} ${topic} Mistakes to Avoid`,
  (faker) =>
    `How to ${faker.hacker.verb()} the ${faker.hacker.noun()} in ${faker.number.int({ min: 2, max: 20 })} Minutes`,
  (faker, topic) =>
    `${topic} Tutorial #${faker.number.int({ min: 1, max: 120 })}: the ${faker.hacker.noun()}`,
  (faker) => `Why Nobody Talks About the ${faker.hacker.adjective()} ${faker.hacker.noun()}`,
  (faker) =>
    `${faker.commerce.productName()} Review - Worth It in ${faker.number.int({ min: 2019, max: 2026 })}?`,
  (_, topic) => `${topic} Q&A Livestream`,
];

export function videoTitle(faker: Faker): string {
  return faker.helpers.arrayElement(titles)(faker, faker.helpers.arrayElement(topics));
}

const capitalized = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

/**
 * A sentence of lorem words. Faker's own `lorem.sentence` spends several times longer per word in its general
 * helpers, and the million-video seed writes tens of millions of words.
 */
function loremSentence(faker: Faker, min: number, max: number): string {
  const words = faker.definitions.lorem.word;
  const count = faker.number.int({ min, max });
  let sentence = capitalized(faker.helpers.arrayElement(words));
  for (let index = 1; index < count; index += 1) sentence += ` ${faker.helpers.arrayElement(words)}`;
  return `${sentence}.`;
}

const loremSentences = (faker: Faker, count: number, min: number, max: number) =>
  Array.from({ length: count }, () => loremSentence(faker, min, max)).join(' ');

export function videoDescription(faker: Faker): string {
  const handle = `${faker.person.firstName()}${faker.number.int({ min: 1, max: 999 })}`.replace(
    /[^A-Za-z0-9_]/g,
    '',
  );
  const chapter = `${capitalized(faker.hacker.verb())} the ${faker.hacker.adjective()} ${faker.hacker.noun()}`;
  const minute = faker.number.int({ min: 10, max: 59 });
  return `${loremSentences(faker, faker.number.int({ min: 2, max: 4 }), 3, 10)}\n\nChapters:\n00:00 Intro\n01:${minute}: ${chapter}\n\nSubscribe for more: https://www.youtube.com/@${handle}`;
}

export function videoTags(faker: Faker): string[] {
  const count = faker.number.int({ min: 2, max: 8 });
  return [...new Set(Array.from({ length: count }, () => faker.word.noun().toLowerCase()))];
}

/** A standard normal draw (Box-Muller) from the seeded generator. */
function normal(faker: Faker): number {
  const u = faker.number.float({ min: Number.EPSILON, max: 1 });
  const v = faker.number.float({ min: 0, max: 1 });
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** View counts are log-normal: most videos see hundreds or thousands of views, a few see hundreds of millions. */
export function engagement(faker: Faker): { viewCount: number; likeCount: number; commentCount: number } {
  const viewCount = Math.min(Math.round(Math.exp(8 + 2.2 * normal(faker))), 5_000_000_000);
  const likeCount = Math.floor(viewCount * faker.number.float({ min: 0.005, max: 0.06 }));
  const commentCount = Math.floor(likeCount * faker.number.float({ min: 0.02, max: 0.15 }));
  return { viewCount, likeCount, commentCount };
}

/** Shorts, ordinary uploads and long streams, in roughly the shares a channel shows. */
export function durationSeconds(faker: Faker): number {
  const kind = faker.number.float({ min: 0, max: 1 });
  if (kind < 0.2) return faker.number.int({ min: 15, max: 60 });
  if (kind < 0.85) return faker.number.int({ min: 180, max: 1_200 });
  return faker.number.int({ min: 1_200, max: 10_800 });
}

const languages = [
  'en',
  'en',
  'en',
  'en-US',
  'en-GB',
  'es',
  'pt-BR',
  'de',
  'fr',
  'ja',
  'hi',
  'ko',
  'zh-Hans',
];

export const language = (faker: Faker) => faker.helpers.arrayElement(languages);

/** Spoken-style text: sentences of everyday words, the way auto captions read. */
export function transcriptText(faker: Faker, sentences: number): string {
  return loremSentences(faker, sentences, 6, 18);
}
