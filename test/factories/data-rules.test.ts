import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  processingJobFactory,
  processingSessionFactory,
  seedFactories,
  transcriptFactory,
  videoFactory,
} from '../../dev/factories';
import { seedDatabase } from '../../dev/seeding/bulk-seed';
import { checkDataRules, dataRules } from '../../dev/factories/data-rules';
import type { Factory } from '../../dev/factories/factory';
import { seedPlanFrom } from '../../dev/seeding/seed-plan';
import { jobStatuses, jobTypeEntity, jobTypes } from '../../src/schemas/processing-job';
import { videoStatuses } from '../../src/schemas/video';
import { testDatabase } from '../support/database';

const hourMs = 3_600_000;
const dayMs = 24 * hourMs;
const yearMs = 365 * dayMs;
const zone = 'America/Los_Angeles';

const within = (around: number, spanMs: number) =>
  fc.date({ min: new Date(around - spanMs), max: new Date(around + spanMs), noInvalidDate: true });

const offsetIn = new Intl.DateTimeFormat('en-US', { timeZone: zone, timeZoneName: 'shortOffset' });
const offsetAt = (ms: number) =>
  offsetIn.formatToParts(ms).find((part) => part.type === 'timeZoneName')!.value;

/** The hours `zone`'s clocks change in, within a year either side of `around`: local days of 23 and 25 hours. */
function clockChanges(around: number): Date[] {
  const changes: Date[] = [];
  for (let day = around - yearMs; day < around + yearMs; day += dayMs) {
    if (offsetAt(day) === offsetAt(day + dayMs)) continue;
    let hour = day;
    while (offsetAt(hour + hourMs) === offsetAt(day)) hour += hourMs;
    changes.push(new Date(hour + hourMs));
  }
  return changes;
}

/**
 * The moment a factory builds as of: the real clock (undefined), any moment ten years either side of it, or a
 * day around one of `zone`'s clock changes.
 */
const clocks: fc.Arbitrary<Date | undefined> = fc.oneof(
  fc.constant(undefined),
  within(Date.now(), 10 * yearMs),
  ...clockChanges(Date.now()).map((change) => within(change.getTime(), dayMs + 12 * hourMs)),
);

/** A time a caller gives, relative to the factory's moment: within days of it (either side), or years. */
const dateAround = (now: Date) =>
  fc.oneof(within(now.getTime(), 3 * dayMs), within(now.getTime(), 5 * yearMs));

type AnyFactory = Factory<object, unknown, string, object>;

/** Each factory with the overrides a caller might give it, as of a moment: the fields other fields depend on. */
const cases: [
  string,
  'video' | 'transcript' | 'job' | 'session',
  AnyFactory,
  (now: Date) => fc.Arbitrary<object>,
  fc.Arbitrary<object>,
][] = [
  [
    'video',
    'video',
    videoFactory as unknown as AnyFactory,
    (now) =>
      fc.record(
        {
          publishedAt: fc.option(dateAround(now), { nil: null }),
          status: fc.constantFrom(...videoStatuses),
          durationSeconds: fc.integer({ min: 1, max: 40_000 }),
        },
        { requiredKeys: [] },
      ),
    fc.record({
      shortsShare: fc.double({ min: 0, max: 1, noNaN: true }),
      reach: fc.double({ min: -3, max: 3, noNaN: true }),
    }),
  ],
  [
    'transcript',
    'transcript',
    transcriptFactory as unknown as AnyFactory,
    () =>
      fc.oneof(
        fc.record(
          { language: fc.constantFrom('en', 'en-US', 'en-GB', 'es', 'es-MX', 'de', 'ja') },
          { requiredKeys: [] },
        ),
        // A caller's own content, in the language it is tagged with.
        fc.record({
          language: fc.constant('en'),
          content: fc.constantFrom('So this is the plan. Can you fix that one?', 'The end'),
        }),
      ),
    fc.record({
      sentences: fc.integer({ min: 1, max: 900 }),
      durationSeconds: fc.integer({ min: 1, max: 20_000 }),
      spoken: fc.constantFrom('en', 'es'),
    }),
  ],
  [
    'job',
    'job',
    processingJobFactory as unknown as AnyFactory,
    (now) =>
      fc
        .record(
          {
            jobType: fc.constantFrom(...jobTypes),
            status: fc.constantFrom(...jobStatuses),
            runAfter: dateAround(now),
            attempts: fc.integer({ min: 0, max: 3 }),
            completedAt: dateAround(now),
          },
          { requiredKeys: ['jobType'] },
        )
        .map(({ completedAt, ...job }) => ({
          ...job,
          entityType: jobTypeEntity[job.jobType],
          maxAttempts: 3,
          // A caller gives a completion only to a finished job, and after it was due.
          ...(completedAt && (job.status === 'completed' || job.status === 'failed')
            ? {
                completedAt: new Date(
                  Math.max(completedAt.getTime(), (job.runAfter?.getTime() ?? 0) + 1_000),
                ),
              }
            : {}),
        })),
    fc.constant({}),
  ],
  [
    'session',
    'session',
    processingSessionFactory as unknown as AnyFactory,
    (now) => fc.record({ startedAt: fc.option(dateAround(now), { nil: null }) }, { requiredKeys: [] }),
    fc.constant({}),
  ],
];

describe('the data rules', () => {
  // Local time where the clocks change: arithmetic in local days or hours would show here.
  const zoneBefore = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = zone;
  });
  afterAll(() => {
    if (zoneBefore === undefined) delete process.env.TZ;
    else process.env.TZ = zoneBefore;
  });

  for (const [name, table, factory, overrides, transient] of cases) {
    const rules = dataRules.filter((rule) => rule.row?.table === table);
    it(`hold for every ${name} the factory builds, as of any moment, with any traits and overrides (${rules.length} rules)`, () => {
      fc.assert(
        fc.property(
          clocks.chain((now) => fc.tuple(fc.constant(now), overrides(now ?? new Date()))),
          fc.subarray(factory.traitNames),
          transient,
          fc.integer({ min: 0, max: 1_000_000 }),
          ([now, given], traits, extra, seed) => {
            seedFactories(seed);
            const chosen = factory.trait(...traits).transient(extra);
            const built = (now ? chosen.at(now) : chosen).build(given);
            for (const rule of rules) {
              expect(rule.row!.holds(built as never), `${rule.rule}: ${JSON.stringify(built)}`).toBe(true);
            }
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it('are broken by a factory that ignores them, so they can fail', () => {
    const published = videoFactory.build({ publishedAt: new Date() });
    const video = { ...published, discoveredAt: new Date(published.publishedAt!.getTime() - dayMs) };
    const transcript = { ...transcriptFactory.build(), wordCount: 3 };
    const job = {
      ...processingJobFactory.trait('discovery', 'completed').build(),
      result: { wordCount: 3, language: 'en' },
    };
    const broken = (table: string, row: object) =>
      dataRules
        .filter((rule) => rule.row?.table === table && !rule.row.holds(row as never))
        .map((rule) => rule.rule);
    expect(broken('video', video)).toEqual(['a video is discovered no earlier than it was published']);
    expect(broken('transcript', transcript)).toEqual(["a transcript's word count counts its content"]);
    expect(broken('job', job)).toEqual([
      "a completed job's result has its type's shape, and an unfinished job has none",
    ]);
  });

  it('are each broken by a row that breaks that rule alone, and hold at their edges', () => {
    const hour = 3_600_000;
    const shift = (date: Date | null | undefined, ms: number) => new Date(date!.getTime() + ms);
    const completedVideo = videoFactory.trait('completed').build();
    const discoveredVideo = videoFactory.build();
    const runningJob = processingJobFactory.trait('running').build();
    const completedJob = processingJobFactory.trait('completed').build();
    const session = processingSessionFactory.trait('completed').build();
    const cases: [table: string, row: object, broken: string[]][] = [
      ['video', { ...completedVideo, discoveredAt: completedVideo.publishedAt }, []],
      [
        'video',
        { ...completedVideo, processedAt: shift(completedVideo.discoveredAt, -hour) },
        ['a video is processed no earlier than it was discovered'],
      ],
      [
        'video',
        { ...completedVideo, processedAt: null },
        ['a completed video has been processed, and only a completed one'],
      ],
      [
        'video',
        { ...discoveredVideo, processedAt: shift(discoveredVideo.discoveredAt, hour) },
        ['a completed video has been processed, and only a completed one'],
      ],
      ['video', { ...completedVideo, likeCount: 10, commentCount: 10, viewCount: 10 }, []],
      [
        'video',
        { ...completedVideo, likeCount: 11, commentCount: 0, viewCount: 10 },
        ['a video has no more likes or comments than views'],
      ],
      [
        'video',
        { ...completedVideo, likeCount: 0, commentCount: 11, viewCount: 10 },
        ['a video has no more likes or comments than views'],
      ],
      ['job', { ...runningJob, startedAt: runningJob.runAfter }, []],
      [
        'job',
        { ...runningJob, attempts: 1, startedAt: shift(runningJob.runAfter, -hour) },
        ['a job on its first attempt starts no earlier than it was due'],
      ],
      ['job', { ...runningJob, attempts: 2, startedAt: shift(runningJob.runAfter, -hour) }, []],
      [
        'job',
        { ...completedJob, completedAt: shift(completedJob.startedAt, -1) },
        ['a job completes no earlier than it started'],
      ],
      [
        'job',
        { ...runningJob, leaseExpiresAt: null },
        ['a running job holds a lease, and no other job does'],
      ],
      [
        'job',
        { ...completedJob, leaseToken: runningJob.leaseToken, leaseExpiresAt: runningJob.leaseExpiresAt },
        ['a running job holds a lease, and no other job does'],
      ],
      ['session', { ...session, completedAt: session.startedAt }, []],
      [
        'session',
        { ...session, status: 'failed', completedAt: null },
        ['a finished session (completed or failed) has a completion time, and no other session has one'],
      ],
      [
        'session',
        { ...session, status: 'running' },
        ['a finished session (completed or failed) has a completion time, and no other session has one'],
      ],
      [
        'session',
        { ...session, completedAt: shift(session.startedAt, -1) },
        ['a session completes no earlier than it started'],
      ],
    ];
    for (const [table, row, expected] of cases) {
      const broken = dataRules
        .filter((rule) => rule.row?.table === table && !rule.row.holds(row as never))
        .map((rule) => rule.rule);
      expect(broken, JSON.stringify(row)).toEqual(expected);
    }
  });

  it('hold a transcript to its language and its timings, and hold a transcript without timings to neither', () => {
    const broken = (row: object) =>
      dataRules
        .filter((rule) => rule.row?.table === 'transcript' && !rule.row.holds(row as never))
        .map((rule) => rule.rule);
    const english = transcriptFactory.build({ language: 'en' });
    const spanish = transcriptFactory.build({ language: 'es-MX' });
    expect(broken(english)).toEqual([]);
    expect(broken({ ...english, language: 'es' })).toEqual([
      'a transcript tagged English or Spanish is spoken in that language',
    ]);
    expect(broken({ ...spanish, language: 'en-GB' })).toEqual([
      'a transcript tagged English or Spanish is spoken in that language',
    ]);
    // A language the rules do not know, or none, is not checked.
    expect(broken({ ...spanish, language: 'de' })).toEqual([]);
    expect(broken({ ...spanish, language: null })).toEqual([]);
    const segments = english.metadata!.segments as { start: number; duration: number; words: number }[];
    const shifted = segments.map((segment, index) =>
      index === 1 ? { ...segment, start: segment.start + 0.02 } : segment,
    );
    expect(broken({ ...english, metadata: { ...english.metadata, segments: shifted } })).toEqual([
      "a transcript's timed segments run one after another from the start, and show every word once",
    ]);
    expect(broken({ ...english, metadata: {} })).toEqual([]);
  });

  it('hold a job to its state: a running job carries no result, a cancelled one may', () => {
    const rule = dataRules.find((r) => r.rule.startsWith("a completed job's result"))!.row!;
    const job = processingJobFactory.trait('running').build();
    expect(rule.holds({ ...job, result: null } as never)).toBe(true);
    expect(rule.holds({ ...job, result: { wordCount: 1, language: 'en' } } as never)).toBe(false);
    expect(rule.holds({ ...job, status: undefined, result: { wordCount: 1 } } as never)).toBe(false);
    expect(rule.holds({ ...job, status: 'cancelled', result: { partial: true } } as never)).toBe(true);
  });

  for (const scenario of ['demo', 'queue'] as const) {
    it(`hold in every row of a seeded ${scenario} database`, async () => {
      const { db } = testDatabase();
      await seedDatabase(db, seedPlanFrom({ SEED_SCENARIO: scenario, SEED_VIDEOS: '2000', SEED: '5' }));
      expect(await checkDataRules((sql) => db.raw(sql))).toEqual([]);
    });
  }

  it('count the rows that break them in a database', async () => {
    const { db } = testDatabase();
    await seedDatabase(db, seedPlanFrom({ SEED_VIDEOS: '300', SEED: '6' }));
    await db.raw(`UPDATE videos SET discovered_at = published_at - interval '1 day'
                   WHERE id IN (SELECT id FROM videos WHERE published_at IS NOT NULL ORDER BY id LIMIT 3)`);
    await db.raw(`UPDATE videos SET tags = tags || tags[1]
                   WHERE id IN (SELECT id FROM videos WHERE cardinality(tags) > 0 ORDER BY id LIMIT 2)`);
    await db.raw(`UPDATE transcripts SET word_count = word_count + 1
                   WHERE id IN (SELECT id FROM transcripts ORDER BY id LIMIT 2)`);
    await db.raw(`UPDATE processing_jobs SET result = '{"wordCount": 1}'
                   WHERE id IN (SELECT id FROM processing_jobs WHERE job_type = 'channel_discovery' ORDER BY id LIMIT 1)`);
    // Each planted fault breaks its own rule, and the rules that look at the same fact from another row.
    expect(await checkDataRules((sql) => db.raw(sql))).toEqual([
      { rule: 'a video is discovered no earlier than it was published', violations: 3 },
      { rule: "a video's tags are each named once", violations: 2 },
      { rule: 'a video is discovered no earlier than its channel was first followed', violations: 1 },
      { rule: "a transcript's word count counts its content", violations: 2 },
      {
        rule: "a completed job's result has its type's shape, and an unfinished job has none",
        violations: 1,
      },
      {
        rule: "a completed transcript job's result counts the words of a transcript of its video",
        violations: 2,
      },
    ]);
  });
});
