import type { Faker } from '@faker-js/faker';
import { chapterList, languageTags, type SpokenLanguage, writtenSentences } from './speech';

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

// Stryker disable all: the wording of channel names and titles; any wording is valid data.
export function channelName(faker: Faker, topic: string): string {
  const pattern = faker.number.int({ min: 0, max: 3 });
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

export const topic = (faker: Faker) => faker.helpers.arrayElement(topics);

export function videoTitle(faker: Faker, about: string = topic(faker)): string {
  return faker.helpers.arrayElement(titles)(faker, about);
}

// Stryker restore all

/** A YouTube handle from a name: letters and digits only. */
export const handleFor = (name: string, number: number) => `${name.replace(/[^A-Za-z0-9]/g, '')}${number}`;

/**
 * A description as creators write them: what the video does, the chapters (inside its duration), links and
 * hashtags.
 */
export function videoDescription(
  faker: Faker,
  about: string,
  durationSeconds: number,
  handle: string,
): string {
  const chapters = chapterList(faker, durationSeconds);
  const kind =
    durationSeconds <= 60 ? 'shorts' : faker.helpers.arrayElement(['tutorial', 'howto', 'review', 'diy']);
  const hashtags = [about, kind].map((tag) => `#${tag.replace(/[^A-Za-z0-9]/g, '').toLowerCase()}`).join(' ');
  return [
    writtenSentences(faker, about, faker.number.int({ min: 1, max: 3 })),
    ...(chapters.length > 0 ? [`Chapters:\n${chapters.join('\n')}`] : []),
    `Subscribe for more: https://www.youtube.com/@${handle}\nSupport the channel: https://www.patreon.com/${handle}`,
    hashtags,
  ].join('\n\n');
}

/** A channel's "about" text, in the same voice. */
export function channelDescription(faker: Faker, about: string, handle: string): string {
  return `${writtenSentences(faker, about, 1)} New ${about} videos every week.\n\nBusiness: hello@${handle.toLowerCase()}.com`;
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

/**
 * View counts are log-normal: most videos see hundreds or thousands of views, a few see hundreds of millions.
 * `reach` shifts a channel's typical video up or down (a popular channel's median is higher).
 */
export function engagement(
  faker: Faker,
  reach = 0,
): { viewCount: number; likeCount: number; commentCount: number } {
  const viewCount = Math.min(Math.round(Math.exp(8 + reach + 2.2 * normal(faker))), 5_000_000_000);
  const likeCount = Math.floor(viewCount * faker.number.float({ min: 0.005, max: 0.06 }));
  const commentCount = Math.floor(likeCount * faker.number.float({ min: 0.02, max: 0.15 }));
  return { viewCount, likeCount, commentCount };
}

/**
 * Shorts, ordinary uploads and long streams; `shortsShare` is the channel's share of Shorts, and 15% of the rest
 * are long streams.
 */
export function durationSeconds(faker: Faker, shortsShare = 0.2): number {
  const kind = faker.number.float({ min: 0, max: 1 });
  if (kind < shortsShare) return faker.number.int({ min: 15, max: 60 });
  if (kind < shortsShare + (1 - shortsShare) * 0.85) return faker.number.int({ min: 180, max: 1_200 });
  return faker.number.int({ min: 1_200, max: 10_800 });
}

/** The language a channel speaks: most speak English, some Spanish. */
export const spokenLanguage = (faker: Faker): SpokenLanguage =>
  faker.number.float({ min: 0, max: 1 }) < 0.85 ? 'en' : 'es';

/** A BCP-47 tag for a spoken language, as YouTube reports it. */
export const languageTag = (faker: Faker, spoken: SpokenLanguage) =>
  faker.helpers.arrayElement(languageTags[spoken]);

/** The spoken language a BCP-47 tag names, among those the factories speak. */
export const spokenLanguageOf = (tag: string): SpokenLanguage => (tag.startsWith('es') ? 'es' : 'en');
