import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/http/openapi';
import { appRouter } from '../../src/api/router';
import { channelFactory, processingJobFactory, videoFactory } from '../../dev/factories';
import { useApi, withUnreadableChannel } from '../support/api';
import { testDatabase } from '../support/database';

// Built for each test: these tests check how the REST routes, their parsers and error handler were registered.
const api = useApi({ perTest: true });
const token = 'a-long-enough-test-token';
const secured = useApi({ apiToken: token, production: true, perTest: true });
const http = () => request(api.app.server);

describe('REST routes', () => {
  it('create (201), read (by id and by YouTube id), list, change and delete a channel as plain JSON', async () => {
    const input = channelFactory.build();
    const created = await http().post('/api/channels').send(input);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: input.name, youtubeChannelId: input.youtubeChannelId });
    expect(created.body.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const id: string = created.body.id;

    expect((await http().get(`/api/channels/${id}`)).body.id).toBe(id);
    expect((await http().get(`/api/channels/youtube/${input.youtubeChannelId}`)).body.id).toBe(id);
    const listed = await http().get('/api/channels').query({ search: input.name, limit: 100 });
    expect(listed.body.items.map((channel: { id: string }) => channel.id)).toContain(id);

    const changed = await http().patch(`/api/channels/${id}`).send({ status: 'paused' });
    expect(changed.body).toMatchObject({ id, status: 'paused' });
    expect((await http().delete(`/api/channels/${id}`)).status).toBe(200);
    expect((await http().get(`/api/channels/${id}`)).status).toBe(404);
  });

  it('responds with 400 naming the field for a bad body, and writes nothing', async () => {
    const input = channelFactory.build({ channelUrl: 'ftp://example.com' });
    const response = await http().post('/api/channels').send(input);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'BAD_REQUEST', issues: [{ path: ['channelUrl'] }] });
    expect(response.body.message).toMatch(/^channelUrl: /);
    const row = await testDatabase()
      .db('channels')
      .where({ youtube_channel_id: input.youtubeChannelId })
      .first();
    expect(row).toBeUndefined();
  });

  it('responds with 409 naming the field for a duplicate', async () => {
    const existing = await channelFactory.create();
    const response = await http()
      .post('/api/channels')
      .send(channelFactory.build({ youtubeChannelId: existing.youtubeChannelId }));
    expect(response.status).toBe(409);
    expect(response.body).toMatchObject({ code: 'CONFLICT', field: 'youtubeChannelId' });
  });

  it('reads query parameters as the schema types them: numbers, one or many list items, ISO dates', async () => {
    const channel = await channelFactory.create();
    const tagged = await videoFactory.createList(3, { channelId: channel.id, tags: ['rust', 'async'] });
    await videoFactory.create({ channelId: channel.id, tags: ['rust'] });
    const path = `/api/channels/${channel.id}/videos`;

    const page = await http().get(path).query({ limit: 2, tags: 'async' });
    expect(page.status).toBe(200);
    expect(page.body.items).toHaveLength(2);
    const rest = await http().get(path).query({ limit: 2, tags: 'async', cursor: page.body.nextCursor });
    expect(rest.body.items).toHaveLength(1);
    expect(rest.body.nextCursor).toBeNull();
    const ids = [...page.body.items, ...rest.body.items].map((video: { id: string }) => video.id).sort();
    expect(ids).toEqual(tagged.map((video) => video.id).sort());

    const both = await http().get(`${path}?tags=rust&tags=async&include=channel`);
    expect(both.body.items).toHaveLength(3);
    expect(both.body.items[0].channel.id).toBe(channel.id);

    const future = await http().get(path).query({ publishedAfter: '2999-01-01T00:00:00Z' });
    expect(future.body.items).toEqual([]);
  });

  it('responds with 400 for query parameters that are not what the schema says', async () => {
    for (const query of [
      { limit: 'ten' },
      { limit: '0' },
      { limit: '1.5' },
      { limit: '2x' },
      { limit: 'x2' },
      { limit: '1e1' },
      { status: 'nope' },
      { unknown: '1' },
      { createdAfter: 'May' },
    ]) {
      const response = await http().get('/api/videos').query(query);
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(response.body.code).toBe('BAD_REQUEST');
    }
  });

  it('reads digits as a number only where the schema wants one: a decimal limit is rejected as a decimal', async () => {
    const digits = String(Date.now());
    const channel = await channelFactory.create({ name: `Channel ${digits}` });
    const found = await http().get('/api/channels').query({ search: digits });
    expect(found.status).toBe(200);
    expect(found.body.items.map((item: { id: string }) => item.id)).toEqual([channel.id]);
    const decimal = await http().get('/api/channels').query({ limit: '1.25' });
    expect(decimal.status).toBe(400);
    expect(decimal.body.message).toMatch(/^limit: .*expected int, received number/);
  });

  it('rejects a body that names another resource than the path, and a body that is not an object', async () => {
    const channel = await channelFactory.create();
    const other = await channelFactory.create();
    const conflicting = await http()
      .patch(`/api/channels/${channel.id}`)
      .send({ id: other.id, name: 'Renamed' });
    expect(conflicting.status).toBe(400);
    expect(conflicting.body.message).toMatch(/^id: /);
    const list = await http().post('/api/channels').send([channelFactory.build()]);
    expect(list.status).toBe(400);
    expect(list.body).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'the request body must be a JSON object',
    });
    const text = await http()
      .post('/api/channels')
      .set('content-type', 'application/json')
      .send('"a channel"');
    expect(text.body).toMatchObject({
      code: 'BAD_REQUEST',
      message: 'the request body must be a JSON object',
    });
    const same = await http().patch(`/api/channels/${channel.id}`).send({ id: channel.id, name: 'Same id' });
    expect(same.status).toBe(200);
    expect((await testDatabase().db('channels').where({ id: other.id }).first()).name).toBe(other.name);
  });

  it('takes the id from the path, whatever the query string says, for a read and a delete', async () => {
    const [channel, other] = await channelFactory.createList(2);
    const read = await http().get(`/api/channels/${channel!.id}?id=${other!.id}`);
    expect({ status: read.status, id: read.body.id }).toEqual({ status: 200, id: channel!.id });
    const removed = await http().delete(`/api/channels/${channel!.id}?id=${other!.id}`);
    expect({ status: removed.status, id: removed.body.id }).toEqual({ status: 200, id: channel!.id });
    expect(await testDatabase().db('channels').where({ id: channel!.id }).first()).toBeUndefined();
    expect(await testDatabase().db('channels').where({ id: other!.id }).first()).toBeDefined();
  });

  it('rejects malformed JSON, another content type and a repeated single-value parameter with a 4xx in the same shape', async () => {
    const malformed = await http()
      .post('/api/channels')
      .set('content-type', 'application/json')
      .send('{"name": ');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ code: 'BAD_REQUEST', field: null, issues: null });
    const text = await http().post('/api/channels').set('content-type', 'application/xml').send('<name/>');
    expect(text.status).toBe(415);
    expect(text.body.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const twice = await http().get('/api/videos?status=queued&status=failed');
    expect(twice.status).toBe(400);
    expect(twice.body.issues[0].path).toEqual(['status']);
  });

  it('rejects a body over the size limit with 413', async () => {
    const input = channelFactory.build({ description: 'x'.repeat(6 * 1024 * 1024) });
    const response = await http().post('/api/channels').send(input);
    expect(response.status).toBe(413);
    expect(response.body.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('responds to a row that breaks the response schema with a 500 that, in production, names nothing', async () => {
    await withUnreadableChannel(async (id) => {
      const response = await request(secured.app.server)
        .get(`/api/channels/${id}`)
        .set('authorization', `Bearer ${token}`);
      expect(response.status).toBe(500);
      expect(response.body).toEqual({
        code: 'INTERNAL_SERVER_ERROR',
        message: 'Internal server error',
        field: null,
        issues: null,
      });
      const development = await http().get(`/api/channels/${id}`);
      expect(development.status).toBe(500);
      expect(development.body).toMatchObject({
        message: 'Output validation failed',
        issues: [{ path: ['metadata', 'subscribers'] }],
      });
    });
  });

  it('takes a write whose path says it all without a body', async () => {
    const created = await http()
      .post('/api/sessions')
      .send({ sessionName: 'Nightly', sessionType: 'manual' });
    const started = await http().post(`/api/sessions/${created.body.id}/start`);
    expect(started.status).toBe(200);
    expect(started.body.status).toBe('running');
  });

  it('responds with 404 for a missing resource and for a route that does not exist', async () => {
    const missing = await http().get('/api/videos/00000000-0000-4000-8000-000000000000');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
    expect((await http().get('/api/nothing-here')).status).toBe(404);
  });

  it('runs a job through the queue: enqueue, claim, complete', async () => {
    const video = await videoFactory.create();
    const job = processingJobFactory.build({ entityType: 'video', entityId: video.id });
    const enqueued = await http()
      .post('/api/jobs')
      .send({ jobType: job.jobType, entityType: 'video', entityId: video.id, priority: 1_000_000 });
    expect(enqueued.body).toMatchObject({ status: 'queued' });

    const claimed = await http().post('/api/jobs/claim').send({ workerId: 'rest-worker', limit: 1 });
    expect(claimed.body).toHaveLength(1);
    const [lease] = claimed.body as { id: string; leaseToken: string }[];
    expect(lease!.id).toBe(enqueued.body.id);
    const done = await http()
      .post(`/api/jobs/${lease!.id}/complete`)
      .send({ leaseToken: lease!.leaseToken, result: { words: 12 } });
    expect(done.body).toMatchObject({ status: 'completed', result: { words: 12 } });
  });

  it('requires the bearer token when one is set, and hides internals in production responses', async () => {
    const agent = () => request(secured.app.server);
    expect((await agent().get('/api/channels')).status).toBe(401);
    expect((await agent().get('/api/channels').set('authorization', 'Bearer wrong')).status).toBe(401);
    const ok = await agent().get('/api/channels').set('authorization', `Bearer ${token}`);
    expect(ok.status).toBe(200);
    const bad = await agent().get('/api/channels/nope').set('authorization', `Bearer ${token}`);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).not.toMatch(/stack|node_modules/);
  });
});

describe('OpenAPI document', () => {
  const document = openApiDocument();
  const operations = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    Object.entries(item as Record<string, { operationId: string; parameters?: { name: string }[] }>).map(
      ([method, operation]) => ({ path, method, ...operation }),
    ),
  );

  it('names the API, tells a reader where the tRPC procedures are and how tokens and roles work, and tags each router', () => {
    const fresh = openApiDocument();
    expect(fresh.info).toMatchObject({
      title: 'TubeSensei API',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
    });
    for (const phrase of [
      'processing jobs and sessions',
      '/trpc/<router>.<name>',
      'API_TOKENS',
      'rejected with 403',
    ])
      expect(fresh.info.description).toContain(phrase);
    const bearer = fresh.components?.securitySchemes?.bearer as { description?: string } | undefined;
    expect(bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const phrase of [
      '`reader` reads',
      'complete, fail',
      '`admin` may do everything',
      'is an admin token',
    ])
      expect(bearer?.description).toContain(phrase);
    expect(fresh.tags?.map((tag) => tag.name)).toEqual([
      'channels',
      'videos',
      'transcripts',
      'jobs',
      'sessions',
    ]);
    expect(fresh.servers).toEqual([{ url: '/api' }]);
  });

  it('gives every procedure a REST operation', () => {
    const procedures = Object.keys(appRouter._def.procedures).map((name) => name.replace('.', '-'));
    expect(operations.map((operation) => operation.operationId).sort()).toEqual(procedures.sort());
  });

  it('describes inputs from the zod schemas: path ids, enum query values, date-time strings', () => {
    const list = document.paths!['/videos']!.get!;
    const parameters = Object.fromEntries(
      (list.parameters as unknown as { name: string; schema: Record<string, unknown> }[]).map((p) => [
        p.name,
        p.schema,
      ]),
    );
    expect(parameters.status).toMatchObject({
      enum: ['discovered', 'queued', 'processing', 'completed', 'failed'],
    });
    expect(parameters.publishedAfter).toMatchObject({ type: 'string', format: 'date-time' });
    expect(parameters.limit).toMatchObject({ type: 'integer', minimum: 1, maximum: 100 });
    const get = operations.find((operation) => operation.operationId === 'channels-get')!;
    expect(get.path).toBe('/channels/{id}');
    expect(get.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
  });

  it('is served at /openapi.json, with the reference page at /docs', async () => {
    const served = await http().get('/openapi.json');
    expect(served.status).toBe(200);
    expect(served.body.paths).toEqual(JSON.parse(JSON.stringify(document.paths)));
    const page = await http().get('/docs/');
    expect(page.status).toBe(200);
    expect(page.text).toContain('swagger-ui');
    // The page runs only its own scripts, and calls only this server.
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self';/);
    expect(page.headers['content-security-policy']).toMatch(/connect-src 'self';/);
    // It shows operation ids (the tRPC names) and lets a reader try calls, and keeps no token past the page.
    const initializer = await http().get('/docs/static/swagger-initializer.js');
    for (const setting of ['displayOperationId', 'tryItOutEnabled'])
      expect(initializer.text).toMatch(new RegExp(`"${setting}":\\s*true`));
    expect(initializer.text).toMatch(/"persistAuthorization":\s*false/);
    expect(initializer.headers['content-security-policy']).toBe(page.headers['content-security-policy']);
  });
});
