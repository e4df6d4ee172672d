import { faker } from '@faker-js/faker';
import { beforeEach, describe, expect, it } from 'vitest';
import { chapterList, maxSegments, spokenText, timedSegments } from '../../dev/factories/speech';
import {
  durationSeconds,
  engagement,
  handleFor,
  spokenLanguage,
  spokenLanguageOf,
  videoDescription,
} from '../../dev/factories/youtube-data';

beforeEach(() => {
  faker.seed(20261202);
});

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

describe('timed segments', () => {
  it('give each sentence a segment in proportion to its words, ending exactly at the end of the video', () => {
    const segments = timedSegments('One two three. Four? Five six!', 12);
    expect(segments).toEqual([
      { start: 0, duration: 6, words: 3 },
      { start: 6, duration: 2, words: 1 },
      { start: 8, duration: 4, words: 2 },
    ]);
  });

  it(`put several sentences in a segment past ${maxSegments} sentences, and keep every word`, () => {
    const content = spokenText(faker, 'en', maxSegments + 1);
    const segments = timedSegments(content, 3_600);
    expect(segments).toHaveLength(Math.ceil((maxSegments + 1) / 2));
    expect(sum(segments.map((segment) => segment.words))).toBe(content.split(/\s+/).length);
    const last = segments.at(-1)!;
    expect(last.start + last.duration).toBeCloseTo(3_600, 1);
  });

  it(`keep one sentence per segment at exactly ${maxSegments} sentences`, () => {
    expect(timedSegments(spokenText(faker, 'es', maxSegments), 600)).toHaveLength(maxSegments);
  });
});

describe('chapters', () => {
  it('are none for a video under three minutes, and two from three minutes', () => {
    expect(chapterList(faker, 179)).toEqual([]);
    const chapters = chapterList(faker, 180);
    expect(chapters).toHaveLength(2);
    expect(chapters[0]).toBe('0:00 Intro');
    expect(chapters[1]).toMatch(/^1:30 \S/);
  });

  it('are one per four minutes, at most eight, at times inside the video, with hours when it is long', () => {
    const chapters = chapterList(faker, 960);
    expect(chapters.map((line) => line.split(' ')[0])).toEqual(['0:00', '4:00', '8:00', '12:00']);
    const long = chapterList(faker, 4 * 3_600 + 5);
    expect(long).toHaveLength(8);
    expect(long.map((line) => line.split(' ')[0])).toEqual([
      '0:00',
      '30:00',
      '1:00:01',
      '1:30:01',
      '2:00:02',
      '2:30:03',
      '3:00:03',
      '3:30:04',
    ]);
  });
});

describe('descriptions', () => {
  it('list chapters, links to the handle and hashtags without spaces or punctuation', () => {
    const text = videoDescription(faker, 'Chess Openings', 600, 'ChessLab7');
    expect(text).toContain('Chapters:\n0:00 Intro');
    expect(text).toContain('https://www.youtube.com/@ChessLab7');
    expect(text.split('\n\n').at(-1)).toMatch(/^#chessopenings #(tutorial|howto|review|diy)$/);
  });

  it('of a Short have no chapters and say #shorts', () => {
    const text = videoDescription(faker, 'Climbing', 45, 'x');
    expect(text).not.toContain('Chapters:');
    expect(text.split('\n\n').at(-1)).toBe('#climbing #shorts');
  });

  it('use handles of letters and digits only', () => {
    expect(handleFor('Ana’s DIY-Lab', 3)).toBe('AnasDIYLab3');
  });
});

describe('shapes drawn per channel', () => {
  const draws = <T>(n: number, draw: () => T) => Array.from({ length: n }, draw);

  it('durations: Shorts at the share asked for, a sixth or so of the rest long streams', () => {
    const durations = draws(4_000, () => durationSeconds(faker, 0.5));
    const shorts = durations.filter((seconds) => seconds <= 60).length / durations.length;
    const streams = durations.filter((seconds) => seconds > 1_200).length / durations.length;
    expect(shorts).toBeGreaterThan(0.46);
    expect(shorts).toBeLessThan(0.54);
    expect(streams).toBeGreaterThan(0.05);
    expect(streams).toBeLessThan(0.1);
    expect(Math.min(...durations)).toBeGreaterThanOrEqual(15);
    expect(Math.max(...durations)).toBeLessThanOrEqual(10_800);
    expect(draws(500, () => durationSeconds(faker, 0)).every((seconds) => seconds >= 180)).toBe(true);
  });

  it('views: log-normal around a median that reach moves, likes and comments fewer in turn', () => {
    const median = (reach: number) => {
      const views = draws(2_001, () => engagement(faker, reach).viewCount).sort((a, b) => a - b);
      return views[1_000]!;
    };
    // e^8 is about 3,000; a reach of 2 multiplies it by e^2, about 7.4.
    expect(median(0)).toBeGreaterThan(2_000);
    expect(median(0)).toBeLessThan(4_500);
    expect(median(2) / median(0)).toBeGreaterThan(5);
    for (const { viewCount, likeCount, commentCount } of draws(500, () => engagement(faker, 1))) {
      expect(likeCount).toBeLessThanOrEqual(viewCount * 0.06);
      expect(commentCount).toBeLessThanOrEqual(likeCount * 0.15);
      expect(viewCount).toBeLessThanOrEqual(5_000_000_000);
    }
  });

  it('languages: mostly English, some Spanish, and a tag maps back to its language', () => {
    const spanish = draws(2_000, () => spokenLanguage(faker)).filter((language) => language === 'es').length;
    expect(spanish / 2_000).toBeGreaterThan(0.11);
    expect(spanish / 2_000).toBeLessThan(0.19);
    expect(['es', 'es-MX', 'en', 'en-GB'].map(spokenLanguageOf)).toEqual(['es', 'es', 'en', 'en']);
  });
});
