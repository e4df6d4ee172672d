import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { restProcedures } from '../../src/http/procedures';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  transcriptFactory,
  videoFactory,
} from '../../dev/factories';
import { defaultMaxBatchCalls } from '../../src/api/batch-limit';
import { maxJsonDepth } from '../../src/api/raw-input';
import { bodyLimitBytes, buildApp } from '../../src/app';
import { clientBatchLimits } from '../../src/client/typed-client';
import { parseConfig } from '../../src/config';
import { translateDatabaseError } from '../../src/services/database-errors';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const token = 'a-long-enough-test-token';
const api = useApi();
const production = useApi({ apiToken: token, production: true });
const auth = { authorization: `Bearer ${token}` };

/** What no response in production may carry: SQL, table names, the driver's words. */
const leaks = /select |insert |update |from "|videos|channels|processing_jobs|invalid input syntax|\$\d/i;

const cursorOf = (sort: string, id = '00000000-0000-4000-8000-000000000000') =>
  Buffer.from(JSON.stringify([sort, id])).toString('base64url');

const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

describe('rejected input', () => {
  it('rejects a job whose type is not about its entity, naming entityType, on both transports', async () => {
    const channel = await channelFactory.create();
    const video = await videoFactory.create();
    for (const job of [
      { jobType: 'channel_discovery', entityType: 'video', entityId: video.id },
      { jobType: 'transcript_extraction', entityType: 'channel', entityId: channel.id },
    ]) {
      const trpc = await api.mutate('jobs.enqueue', job);
      expect(trpc.status).toBe(400);
      expect(trpc.error?.data.field).toBe('entityType');
      const rest = await request(api.app.server).post('/api/jobs').send(job);
      expect(rest.status).toBe(400);
      expect(rest.body.field).toBe('entityType');
    }
    expect(await testDatabase().db('processing_jobs').whereIn('entity_id', [channel.id, video.id])).toEqual(
      [],
    );
  });

  it('has the database reject a mismatched job too, and names entityType', async () => {
    const video = await videoFactory.create();
    const error = await testDatabase()
      .db('processing_jobs')
      .insert({ job_type: 'channel_discovery', entity_type: 'video', entity_id: video.id })
      .then(undefined, translateDatabaseError);
    expect(error).toMatchObject({ kind: 'invalid_input', field: 'entityType' });
  });

  it('names the first offending field of a rejected input, and an unknown key by its name', async () => {
    const bad = await api.mutate('channels.create', { ...channelFactory.build(), channelUrl: 'ftp://x' });
    expect(bad.error?.data.field).toBe('channelUrl');
    const unknown = await api.mutate('channels.create', { ...channelFactory.build(), owner: 'me' });
    expect(unknown.error?.data.field).toBe('owner');
    const nestedField = await api.mutate('videos.upsertMany', {
      channelId: '00000000-0000-4000-8000-000000000000',
      videos: [{ youtubeVideoId: 'short', title: 't', videoUrl: 'https://youtu.be/x' }],
    });
    expect(nestedField.error?.data.field).toBe('videos.0.youtubeVideoId');
    const twoFaults = await api.mutate('channels.create', {
      ...channelFactory.build(),
      name: '',
      channelUrl: 'ftp://x',
    });
    expect(twoFaults.error?.data.issues?.map((issue) => issue.path.join('.'))).toEqual([
      'name',
      'channelUrl',
    ]);
    expect(twoFaults.error?.data.field).toBe('name');
  });

  it('rejects a NUL character in a title or inside metadata, naming the field, with no SQL in production', async () => {
    const channel = await channelFactory.create();
    const cases = [
      { input: { ...channelFactory.build(), name: 'a\u0000b' }, field: 'name' },
      {
        input: { ...channelFactory.build(), metadata: { deep: { list: ['ok', 'n\u0000ul'] } } },
        field: 'metadata.deep.list.1',
      },
      { input: { ...channelFactory.build(), metadata: { 'k\u0000': 1 } }, field: 'metadata.k\u0000' },
    ];
    for (const { input, field } of cases) {
      const response = await production.mutate('channels.create', input, auth);
      expect(response.status).toBe(400);
      expect(response.error?.data.field).toBe(field);
      expect(response.error?.message).not.toMatch(leaks);
    }
    const rest = await request(production.app.server)
      .patch(`/api/channels/${channel.id}`)
      .set(auth)
      .send({ description: 'x\u0000' });
    expect(rest.status).toBe(400);
    expect(rest.body).toMatchObject({ field: 'description' });
  });

  it('names the input itself when it is a string with a NUL character', async () => {
    const response = await api.query('videos.get', 'a\u0000b');
    expect(response.status).toBe(400);
    expect(response.error).toMatchObject({
      message: 'input: must not contain a NUL character',
      data: { field: 'input' },
    });
  });

  it('rejects a cursor PostgreSQL would not read, without SQL, whatever JavaScript makes of it', async () => {
    const encoded = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const cursor of [
      ...['1 ', '2024-01-01', '2024-02-30T00:00:00.000Z', '2024-13-01T00:00:00.000Z', 'infinity'].map(
        (sort) => cursorOf(sort),
      ),
      'Tue, 01 Oct 2024 00:00:00 GMT',
      cursorOf('2024-01-01T00:00:00.000Z', 'not-a-uuid'),
      encoded([1_704_067_200_000, '00000000-0000-4000-8000-000000000000']),
      encoded(['2024-01-01T00:00:00.000Z', 7]),
      encoded({ sort: '2024-01-01T00:00:00.000Z' }),
      'not base64 JSON at all',
    ]) {
      const response = await production.query('videos.list', { cursor }, auth);
      expect(response.status).toBe(400);
      expect(response.error).toMatchObject({
        message: 'cursor is not one this API issued',
        data: { field: 'cursor' },
      });
    }
    const issued = await production.query(
      'videos.list',
      { cursor: cursorOf('2024-01-01T00:00:00.000Z') },
      auth,
    );
    expect(issued.status).toBe(200);
    expect((await production.query('videos.list', { cursor: cursorOf('-infinity') }, auth)).status).toBe(200);
  });

  it('rejects a value the database cannot read in words of its own, in production and development', async () => {
    const error = translateDatabaseError(
      await testDatabase()
        .db.raw(`SELECT '1 '::timestamptz`)
        .then(undefined, (e: unknown) => e),
    );
    expect(error).toMatchObject({ kind: 'invalid_input', message: 'a value cannot be stored as given' });
  });

  it(`rejects JSON nested deeper than ${maxJsonDepth} levels with a clear message, and takes ${maxJsonDepth}`, async () => {
    const deep = `{"json":{"name":${nested(1_500)}}}`;
    const trpc = await request(api.app.server).post('/trpc/channels.create').type('json').send(deep);
    expect(trpc.status).toBe(400);
    expect(trpc.body.error.json.message).toMatch(/nested more than/);
    const query = await request(api.app.server).get(`/trpc/channels.list?input=${encodeURIComponent(deep)}`);
    expect(query.status).toBe(400);
    const rest = await request(api.app.server)
      .post('/api/channels')
      .type('json')
      .send(`{"name":${nested(1_500)}}`);
    expect(rest.status).toBe(400);
    expect(rest.body).toMatchObject({
      code: 'BAD_REQUEST',
      message: expect.stringMatching(/nested more than/),
    });

    // At the limit the input reaches its schema, which judges it as usual.
    const atLimit = await request(api.app.server)
      .post('/api/channels')
      .type('json')
      .send(`{"metadata":${nested(maxJsonDepth - 1)}}`);
    expect(atLimit.status).toBe(400);
    expect(atLimit.body.message).not.toMatch(/nested more than/);
    const overLimit = await request(api.app.server)
      .post('/api/channels')
      .type('json')
      .send(`{"metadata":${nested(maxJsonDepth)}}`);
    expect(overLimit.body.message).toMatch(/nested more than/);
  });

  it('rejects a `__proto__` key with 400 naming its path, on both transports, wherever it is', async () => {
    const channel = await channelFactory.create();
    const message = (field: string) => `${field}: \`__proto__\` is not an accepted key`;
    const cases = [
      { body: '{"__proto__":{"name":"x"}}', field: '__proto__' },
      { body: '{"metadata":{"list":[{"__proto__":1}]}}', field: 'metadata.list.0.__proto__' },
      // JSON's escapes spell the same key.
      { body: '{"metadata":{"\\u005f_proto__":1}}', field: 'metadata.__proto__' },
    ];
    for (const { body, field } of cases) {
      const trpc = await request(api.app.server)
        .post('/trpc/channels.update')
        .type('json')
        .send(`{"json":${body.replace('{', `{"id":"${channel.id}",`)}}`);
      expect(trpc.status).toBe(400);
      expect(trpc.body.error.json).toMatchObject({ message: message(field), data: { field } });
      const rest = await request(api.app.server).patch(`/api/channels/${channel.id}`).type('json').send(body);
      expect(rest.status).toBe(400);
      expect(rest.body).toMatchObject({ code: 'BAD_REQUEST', message: message(field), field });
    }
    const query = await request(api.app.server).get(
      `/trpc/channels.list?input=${encodeURIComponent('{"json":{"__proto__":{"limit":1}}}')}`,
    );
    expect(query.body.error.json.data.field).toBe('__proto__');
    const restQuery = await request(api.app.server).get('/api/channels?__proto__=x&__proto__=y');
    expect(restQuery.status).toBe(400);
    expect(restQuery.body.field).toBe('__proto__');
    expect(await testDatabase().db('channels').where({ id: channel.id }).first()).toMatchObject({
      name: channel.name,
      metadata: channel.metadata,
    });
  });

  it('rejects `constructor` and `prototype` keys with 400 naming them on both transports: superjson cannot write them back', async () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ constructor: { x: 1 } }, 'metadata.constructor', 'constructor'],
      [{ list: [{ prototype: 1 }] }, 'metadata.list.0.prototype', 'prototype'],
    ];
    for (const [metadata, field, key] of cases) {
      const message = `${field}: \`${key}\` is not an accepted key`;
      const trpc = await request(api.app.server)
        .post('/trpc/channels.create')
        .type('json')
        .send(JSON.stringify({ json: { ...channelFactory.build(), metadata } }));
      expect(trpc.status).toBe(400);
      expect(trpc.body.error.json).toMatchObject({ message, data: { field } });
      const rest = await request(api.app.server)
        .post('/api/channels')
        .send({ ...channelFactory.build(), metadata });
      expect(rest.status).toBe(400);
      expect(rest.body).toMatchObject({ code: 'BAD_REQUEST', message, field });
    }
  });

  it('takes the bearer scheme in any case', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const response = await production.query('channels.list', {}, { authorization: `${scheme} ${token}` });
      expect(response.status).toBe(200);
    }
    expect((await production.query('channels.list', {}, { authorization: `Basic ${token}` })).status).toBe(
      401,
    );
  });
});

describe('a caller without a token the API knows', () => {
  const bodies = [
    { what: 'an oversized body', text: `{"json":{"name":"${'x'.repeat(bodyLimitBytes)}"}}` },
    { what: 'a body that is not JSON', text: '{"json":{"name":' },
    { what: 'a body its schema rejects', text: '{"json":{"name":7,"owner":"me"}}' },
  ];
  const callers = [
    { who: 'no token', headers: {} },
    { who: 'a token the API does not know', headers: { authorization: 'Bearer garbage-garbage-garbage' } },
  ];
  const cases = callers.flatMap((caller) => bodies.map((body) => ({ ...caller, ...body })));

  it.each(cases)('with $who and $what is rejected with 401 on both transports', async ({ headers, text }) => {
    const trpc = await request(production.app.server)
      .post('/trpc/channels.create')
      .set(headers)
      .type('json')
      .send(text);
    expect(trpc.status).toBe(401);
    expect(trpc.body.error.json).toMatchObject({
      message: 'a valid bearer token is required',
      data: { code: 'UNAUTHORIZED' },
    });
    const rest = await request(production.app.server)
      .post('/api/channels')
      .set(headers)
      .type('json')
      .send(text.replace(/^\{"json":(.*)\}$/, '$1'));
    expect(rest.status).toBe(401);
    expect(rest.body).toEqual({
      code: 'UNAUTHORIZED',
      message: 'a valid bearer token is required',
      field: null,
      issues: null,
    });
  });

  it('is rejected with 401 for a query whose input its schema rejects, and for a batch', async () => {
    const query = await request(production.app.server).get(
      `/trpc/channels.list?input=${encodeURIComponent('{"json":{"limit":"many"}}')}`,
    );
    expect(query.status).toBe(401);
    const batch = await request(production.app.server)
      .post('/trpc/channels.create,channels.create?batch=1')
      .type('json')
      .send('not JSON');
    expect(batch.status).toBe(401);
    expect(batch.body.error.json.data.code).toBe('UNAUTHORIZED');
  });

  it('still gets 400, not 401, with the token: the check comes first, the body rules after', async () => {
    const response = await request(production.app.server)
      .post('/api/channels')
      .set(auth)
      .type('json')
      .send('{"name":7}');
    expect(response.status).toBe(400);
  });
});

describe('a tRPC batch', () => {
  /** A GET batch of `calls` channel lists, one page of one channel each. */
  const listBatch = (calls: number) => {
    const input = Object.fromEntries(
      Array.from({ length: calls }, (_, index) => [index, { json: { limit: 1 } }]),
    );
    const paths = Array.from({ length: calls }, () => 'channels.list').join(',');
    return `/trpc/${paths}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`;
  };

  it(`holds up to ${defaultMaxBatchCalls} calls by default, and one more is rejected with 400 naming the limit`, async () => {
    const atLimit = await request(api.app.server).get(listBatch(defaultMaxBatchCalls));
    expect(atLimit.status).toBe(200);
    expect(atLimit.body).toHaveLength(defaultMaxBatchCalls);
    const past = await request(api.app.server).get(listBatch(defaultMaxBatchCalls + 1));
    expect(past.status).toBe(400);
    expect(past.body.error.json).toMatchObject({
      message: `a batch may hold at most ${defaultMaxBatchCalls} calls; this one holds ${defaultMaxBatchCalls + 1}`,
      data: { code: 'BAD_REQUEST' },
    });
    const mutations = await request(api.app.server)
      .post(
        `/trpc/${Array.from({ length: defaultMaxBatchCalls + 1 }, () => 'channels.create').join(',')}?batch=1`,
      )
      .type('json')
      .send('{}');
    expect(mutations.status).toBe(400);
    expect(mutations.body.error.json.message).toMatch(/^a batch may hold at most/);
  });

  it('is rejected with 400 when streamed with a claim in it, whose jobs a caller leaving early would release', async () => {
    const claims = `/trpc/jobs.claim,jobs.claim?batch=1`;
    const body = JSON.stringify({
      0: { json: { workerId: 'streaming' } },
      1: { json: { workerId: 'streaming' } },
    });
    for (const header of ['trpc-accept', 'accept']) {
      const rejected = await request(api.app.server)
        .post(claims)
        .set(header, 'application/jsonl')
        .type('json')
        .send(body);
      expect(rejected.status, header).toBe(400);
      expect(rejected.body.error.json.message).toMatch(/^jobs.claim is not taken in a streamed batch/);
    }
    expect((await request(api.app.server).post(claims).type('json').send(body)).status).toBe(200);
  });

  it('counts the calls its path names, not the commas of its input left unencoded', async () => {
    const atLimit = await request(api.app.server).get(listBatch(defaultMaxBatchCalls).replaceAll('%2C', ','));
    expect(atLimit.status).toBe(200);
    expect(atLimit.body).toHaveLength(defaultMaxBatchCalls);
  });

  it('holds as many calls as TRPC_MAX_BATCH_CALLS allows, never fewer than the typed client sends', async () => {
    expect(parseConfig({}).TRPC_MAX_BATCH_CALLS).toBeUndefined();
    expect(clientBatchLimits.maxItems).toBeLessThanOrEqual(defaultMaxBatchCalls);
    expect(() => parseConfig({ TRPC_MAX_BATCH_CALLS: String(clientBatchLimits.maxItems - 1) })).toThrow(
      /TRPC_MAX_BATCH_CALLS/,
    );
    const limit = parseConfig({ TRPC_MAX_BATCH_CALLS: '60' }).TRPC_MAX_BATCH_CALLS;
    const app = await buildApp({
      db: testDatabase().db,
      logger: false,
      tokens: [],
      production: false,
      maxBatchCalls: limit,
    });
    await app.ready();
    try {
      expect((await request(app.server).get(listBatch(60))).status).toBe(200);
      const past = await request(app.server).get(listBatch(61));
      expect(past.status).toBe(400);
      expect(past.body.error.json.message).toBe('a batch may hold at most 60 calls; this one holds 61');
    } finally {
      await app.close();
    }
  });
});

describe('an update that changes nothing', () => {
  /** Each update procedure, its REST path and table, one optional field of its input, and a row of its own. */
  const updates = [
    {
      name: 'channels.update',
      rest: '/api/channels',
      table: 'channels',
      field: 'description',
      create: () => channelFactory.create(),
    },
    {
      name: 'videos.update',
      rest: '/api/videos',
      table: 'videos',
      field: 'description',
      create: () => videoFactory.create(),
    },
    {
      name: 'transcripts.update',
      rest: '/api/transcripts',
      table: 'transcripts',
      field: 'language',
      create: () => transcriptFactory.create(),
    },
    {
      name: 'jobs.update',
      rest: '/api/jobs',
      table: 'processing_jobs',
      field: 'metadata',
      create: () => processingJobFactory.create(),
    },
    {
      name: 'sessions.update',
      rest: '/api/sessions',
      table: 'processing_sessions',
      field: 'metrics',
      create: () => processingSessionFactory.create(),
    },
  ];

  it('is every update procedure there is', () => {
    const names = [...restProcedures.keys()].filter((name) => name.endsWith('.update'));
    expect(names.sort()).toEqual(updates.map((update) => update.name).sort());
  });

  it.each(updates)('is rejected with 400 by $name on both transports, and the row stays', async (update) => {
    const row = await update.create();
    const message = 'input: must change at least one field besides id';
    for (const input of [{ id: row.id }, { id: row.id, [update.field]: undefined }]) {
      const trpc = await api.mutate(update.name, input);
      expect(trpc.status).toBe(400);
      expect(trpc.error?.message).toBe(message);
    }
    for (const body of ['{}', 'null', `{"id":"${row.id}"}`]) {
      const rest = await request(api.app.server).patch(`${update.rest}/${row.id}`).type('json').send(body);
      expect(rest.status, body).toBe(400);
      expect(rest.body).toMatchObject({ code: 'BAD_REQUEST', message });
    }
    const empty = await request(api.app.server).patch(`${update.rest}/${row.id}`);
    expect(empty.status).toBe(400);
    const stored = await testDatabase().db(update.table).where({ id: row.id }).first<{ updated_at: Date }>();
    expect(stored.updated_at).toEqual(row.updatedAt);
  });
});
