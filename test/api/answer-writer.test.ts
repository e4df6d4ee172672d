import { callTRPCProcedure } from '@trpc/server';
import superjson from 'superjson';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
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
} from '../../src/factories';
import { processingJobSchema } from '../../src/schemas/processing-job';
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
    const value = { ...plain(await processingJobFactory.create()), result: null, lockedBy: null };
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
