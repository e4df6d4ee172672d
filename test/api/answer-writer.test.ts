import { callTRPCProcedure } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { answerCheck, compileAnswer, NotWritten } from '../../src/api/answer-writer';
import type { Context } from '../../src/api/context';
import { replaceOutputChecks } from '../../src/api/library-internals';
import { appRouter } from '../../src/api/router';
import { Answer } from '../../src/api/transformer';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  transcriptFactory,
  videoFactory,
} from '../../dev/factories';
import { processingJobSchema, withoutLeaseToken } from '../../src/schemas/processing-job';
import {
  jobEntity,
  jobWithRelations,
  pageOf,
  sessionProgress,
  videoWithRelations,
} from '../../src/schemas/responses';
import { videoSchema } from '../../src/schemas/video';
import { getJob, getJobEntity } from '../../src/services/processing-jobs';
import { sessionProgress as readProgress } from '../../src/services/processing-sessions';
import { getVideo, listVideos } from '../../src/services/videos';
import { testDatabase } from '../support/database';

const db = () => testDatabase().db;

/** A created row as a service answers it: its own properties, without the relations it was not read with. */
const plain = <T extends object>(row: T): T =>
  Object.fromEntries(Object.entries(row).filter(([, value]) => value !== undefined)) as T;

/** What tRPC's own check and superjson would answer: zod's parse of the value, serialized by superjson. */
function expected(schema: z.ZodType, value: unknown) {
  const { json, meta } = superjson.serialize(schema.parse(value));
  return { text: JSON.stringify(json), meta };
}

function written(schema: z.ZodType, value: unknown) {
  const { text, dates } = compileAnswer(schema)(value);
  return { text, meta: new Answer(text, dates).meta };
}

describe('the answer writer', () => {
  it('writes the text and date marks that zod and superjson write, for answers read from the database', async () => {
    const channel = await channelFactory.create({
      processingConfig: { discoverEveryHours: 6, languages: ['en', 'es'], nested: { deep: [1, null, 'x'] } },
    });
    const video = await videoFactory.create({ channelId: channel.id });
    await transcriptFactory.createList(2, { videoId: video.id });
    const session = await processingSessionFactory.trait('running').create();
    const job = await processingJobFactory.create({
      jobType: 'transcript_extraction',
      entityType: 'video',
      entityId: video.id,
      sessionId: session.id,
    });
    await db()('processing_jobs')
      .where('id', job.id)
      .update({ status: 'completed', result: JSON.stringify({ wordCount: 12, language: 'en' }) });

    const answers: [string, z.ZodType, unknown][] = [
      [
        'a video with its channel, transcripts and jobs',
        videoWithRelations,
        await getVideo(db(), { id: video.id, include: ['channel', 'transcripts', 'jobs'] }),
      ],
      [
        'a page of videos',
        pageOf(videoWithRelations),
        await listVideos(db(), { limit: 5, include: ['channel'] } as never),
      ],
      [
        'a job with its session and video',
        jobWithRelations,
        await getJob(db(), job.id, ['session', 'video', 'channel']),
      ],
      ['the row a job is about (one arm of a union)', jobEntity, await getJobEntity(db(), job.id)],
      ['a session’s progress', sessionProgress, await readProgress(db(), session.id)],
    ];
    for (const [name, schema, value] of answers)
      expect(written(schema, value), name).toEqual(expected(schema, value));
  });

  it('leaves out properties the schema does not name, and optional ones that are missing', async () => {
    const stored = plain(await videoFactory.create());
    const value = { ...stored, secret: 'not in the schema', channel: undefined };
    const { text } = compileAnswer(videoWithRelations)(value);
    expect(JSON.parse(text)).not.toHaveProperty('secret');
    expect(JSON.parse(text)).not.toHaveProperty('channel');
    expect(text).toBe(expected(videoWithRelations, stored).text);
  });

  const stored = () => ({
    ...videoFactory.build({ channelId: crypto.randomUUID() }),
    id: crypto.randomUUID(),
    createdAt: new Date(),
    updatedAt: new Date(),
  });
  const refusals: [string, (video: ReturnType<typeof stored>) => unknown][] = [
    ['a missing required property', ({ title: _title, ...video }) => video],
    ['a status outside its enum', (video) => ({ ...video, status: 'lost' })],
    ['an id that is not a UUID', (video) => ({ ...video, id: 'not-a-uuid' })],
    ['a count below its minimum', (video) => ({ ...video, viewCount: -1 })],
    ['a number JSON cannot carry', (video) => ({ ...video, viewCount: Number.POSITIVE_INFINITY })],
    ['an invalid date', (video) => ({ ...video, createdAt: new Date(Number.NaN) })],
    ['a date inside a JSON column', (video) => ({ ...video, metadata: { at: new Date() } })],
    ['a string where an object goes', () => 'a video'],
  ];
  for (const [name, spoil] of refusals) {
    it(`will not write ${name}, which zod refuses too`, () => {
      const value = spoil(stored());
      expect(() => compileAnswer(videoSchema)(value)).toThrow(NotWritten);
      expect(videoSchema.safeParse(value).success).toBe(false);
    });
  }

  it('writes a null for a nullable property, as zod and superjson do', async () => {
    const job = withoutLeaseToken(plain(await processingJobFactory.create()));
    const value = { ...job, result: null, lockedBy: null };
    expect(written(processingJobSchema, value)).toEqual(expected(processingJobSchema, value));
  });
});

describe('the answer check', () => {
  const context = () =>
    ({ db: db(), tokens: [], production: false, log: { info() {}, error() {} } }) as unknown as Context;

  it('answers every procedure with text the transports send as it is', async () => {
    replaceOutputChecks(answerCheck);
    const data = await callTRPCProcedure({
      router: appRouter,
      path: 'jobs.types',
      type: 'query',
      ctx: context(),
      getRawInput: async () => undefined,
      signal: undefined,
      batchIndex: 0,
    });
    expect(data).toBeInstanceOf(Answer);
    expect(JSON.parse((data as Answer).text)).toEqual(
      expect.arrayContaining([expect.objectContaining({ jobType: 'transcript_extraction' })]),
    );
  });

  it('hands what it does not write, but zod accepts, to zod: a date given as text is answered as a date', async () => {
    replaceOutputChecks(answerCheck);
    const video = plain(await videoFactory.create());
    const check = answerCheck(videoSchema);
    const answered = await check({
      next: async () => ({
        ok: true as const,
        data: { ...video, publishedAt: video.publishedAt!.toISOString() },
      }),
    });
    expect(answered.ok && answered.data).toEqual(videoSchema.parse(video));
    const refused = check({ next: async () => ({ ok: true as const, data: { ...video, status: 'lost' } }) });
    await expect(refused).rejects.toMatchObject({
      code: 'INTERNAL_SERVER_ERROR',
      message: 'Output validation failed',
    });
  });
});

describe('the answer writer against zod and superjson, on values of every kind', () => {
  // Where zod refuses a value the writer must refuse it; where the writer writes, its text and date marks must be
  // zod's answer as superjson writes it. A writer refusing what zod accepts is allowed (zod then answers), but
  // each such kind is named here.
  const json = z.json();
  const schema = z
    .strictObject({
      text: z.string(),
      count: z.number().int().min(0).nullable(),
      ratio: z.number(),
      at: z.date().optional(),
      when: z.date().nullable(),
      list: z.array(z.union([z.string(), z.number()])),
      config: z.record(z.string(), json),
      kind: z.enum(['a', 'b']),
      three: z.literal(3),
      'dotted.key': z.boolean(),
      nested: z.strictObject({ deep: z.array(z.strictObject({ at: z.date() })) }).optional(),
      either: z.discriminatedUnion('type', [
        z.strictObject({ type: z.literal('date'), at: z.date() }),
        z.strictObject({ type: z.literal('text'), at: z.string() }),
      ]),
      anything: z.unknown(),
      defaulted: z.string().default('d'),
      uuid: z.uuid().optional(),
    })
    .catchall(z.never());
  const valid = () => ({
    text: 'x',
    count: 1,
    ratio: 0.5,
    at: new Date('2026-01-01T00:00:00.000Z'),
    when: null,
    list: ['a', 1],
    config: { a: [1, { b: null }], 'c.d': 'e' },
    kind: 'a',
    three: 3,
    'dotted.key': true,
    nested: { deep: [{ at: new Date('2026-01-02T00:00:00.000Z') }] },
    either: { type: 'date', at: new Date('2026-01-03T00:00:00.000Z') },
    anything: { free: ['form', 2] },
    defaulted: 'given',
  });
  const cases: [string, Record<string, unknown>][] = [
    ['a valid value', {}],
    ['a null count', { count: null }],
    ['no optional date', { at: undefined }],
    ['the other arm of a union', { either: { type: 'text', at: 'later' } }],
    ['a union arm that does not fit', { either: { type: 'text', at: new Date() } }],
    ['a negative count', { count: -1 }],
    ['a fractional count', { count: 1.5 }],
    ['negative zero', { ratio: -0 }],
    ['NaN', { ratio: Number.NaN }],
    ['infinity', { ratio: Number.POSITIVE_INFINITY }],
    ['an invalid date', { when: new Date(Number.NaN) }],
    ['a date as text', { when: '2026-01-01T00:00:00.000Z' }],
    ['a value outside the enum', { kind: 'c' }],
    ['another literal', { three: 4 }],
    ['a list item of no member kind', { list: [true] }],
    ['a hole in a list', { list: [, 'a'] }], // eslint-disable-line no-sparse-arrays
    ['undefined in a list', { list: [undefined] }],
    ['a date inside JSON', { config: { at: new Date() } }],
    ['a Map inside JSON', { config: { m: new Map() } }],
    ['undefined inside JSON', { config: { u: undefined } }],
    ['a string where a record goes', { config: 'x' }],
    ['a Map where a record goes', { config: new Map([['a', 1]]) }],
    ['an array where a record goes', { config: [1, 2] }],
    ['a date where a record goes', { config: new Date() }],
    ['a record holding a list with a hole', { config: { a: [, 1] } }], // eslint-disable-line no-sparse-arrays
    ['a null where a list goes', { list: null }],
    ['an object where a list goes', { list: { 0: 'a' } }],
    ['an array where a union of objects goes', { either: [] }],
    ['a union arm that fits after one that does not', { either: { type: 'text', at: 'x' } }],
    ['a missing required property', { text: undefined }],
    ['a boolean where a string goes', { text: true }],
    ['an array where an object goes', { nested: [] }],
    ['a key the schema does not name', { extra: 1 }],
    ['a default left out', { defaulted: undefined }],
    ['a bad uuid', { uuid: 'no' }],
    ['a good uuid', { uuid: '0b6f7e1a-8c3d-4f5e-9a2b-1c0d9e8f7a6b' }],
    ['an object of a class where JSON goes', { anything: new URL('https://example.com') }],
  ];
  const writer = compileAnswer(schema);
  for (const [name, change] of cases) {
    it(`writes ${name} as zod and superjson would, or leaves it to zod`, () => {
      const value: Record<string, unknown> = { ...valid(), ...change };
      for (const [key, item] of Object.entries(change)) if (item === undefined) delete value[key];
      // The one deliberate difference: a key the schema does not name is left out, where zod's strict object
      // refuses the whole answer.
      const { extra: _extra, ...named } = value;
      const parsed = schema.safeParse(named);
      let result: ReturnType<typeof writer> | undefined;
      try {
        result = writer(value);
      } catch (error) {
        expect(error).toBeInstanceOf(NotWritten);
      }
      if (!parsed.success) {
        expect(result, 'zod refuses it, so must the writer').toBeUndefined();
        return;
      }
      if (result === undefined) {
        expect([
          'a date as text',
          'a default left out',
          'negative zero',
          'an object of a class where JSON goes',
        ]).toContain(name);
        return;
      }
      const answer = superjson.serialize(parsed.data);
      expect(result.text).toBe(JSON.stringify(answer.json));
      expect(new Answer(result.text, result.dates).meta).toEqual(answer.meta);
    });
  }
});
