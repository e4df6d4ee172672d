import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import knex, { type Knex } from 'knex';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/api/access';
import { errorDetail, restErrorBody } from '../../src/api/error-shape';
import { openApiDocument, restPrefix } from '../../src/http/openapi';
import { buildApp } from '../../src/app';
import { knexConfig } from '../../src/db/knex-config';
import {
  channelFactory,
  processingJobFactory,
  processingSessionFactory,
  transcriptFactory,
  videoFactory,
} from '../../dev/factories';
import { useApi, withUnreadableChannel } from '../support/api';
import { testDatabase } from '../support/database';
import { type GeneratedRequest, type Pools, RequestArbitraries } from '../support/openapi-arbitraries';
import { OpenApiValidator } from '../support/openapi-validator';

/*
 * The OpenAPI document as a contract: requests generated from it, fitting and broken, sent with every role's
 * token, none and a wrong one, to an app in development and one in production mode, and every response held to
 * the document. Seeded, so a failure replays; bounded, so it runs in a few seconds.
 */

const tokens: Record<Role, string> = {
  admin: 'contract-admin-token-0001',
  worker: 'contract-worker-token-001',
  reader: 'contract-reader-token-001',
};
const configured = (Object.entries(tokens) as [Role, string][]).map(([role, token]) => ({ role, token }));
const credentials: Record<string, string | undefined> = {
  ...tokens,
  none: undefined,
  garbage: 'a-token-nobody-was-given',
};

const apps = {
  development: useApi({ tokens: configured, production: false }),
  production: useApi({ tokens: configured, production: true }),
};
const document = openApiDocument();
const validator = new OpenApiValidator(document);
const operations = Object.entries(document.paths ?? {}).flatMap(([template, item]) =>
  Object.keys(item as object).map((method) => ({ method, template })),
);

/** A claim that finds nothing waits for work up to `waitMs`: kept short, so the run stays bounded. */
const shortWaits = { waitMs: fc.integer({ min: 0, max: 20 }) };

/** A request and its response, long strings cut, for a failure's message. */
const described = (value: unknown) =>
  JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'string' && item.length > 200
      ? `${item.slice(0, 200)}… (${item.length} characters)`
      : item,
  );

const frameworkCode: Record<number, string> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

interface ErrorData {
  code: string;
  httpStatus: number;
  field: unknown;
  issues: unknown;
}

const runsPerOperation = Number(process.env.CONTRACT_RUNS ?? 10);
const seed = Number(process.env.CONTRACT_SEED ?? 20_261_205);

interface Sent {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

async function send(
  app: FastifyInstance,
  method: string,
  generated: GeneratedRequest,
  token: string | undefined,
): Promise<Sent> {
  const query = new URLSearchParams(generated.query).toString();
  const url = `${restPrefix}${generated.path}${query ? `?${query}` : ''}`;
  let call = request(app.server)[method as 'get' | 'post' | 'put' | 'patch' | 'delete'](url);
  if (token !== undefined) call = call.set('authorization', `Bearer ${token}`);
  if (generated.contentType !== undefined) call = call.set('content-type', generated.contentType);
  return seen(generated.body === undefined ? await call : await call.send(generated.body));
}

/** What the validator reads of a supertest response. */
const seen = (response: request.Response): Sent => ({
  status: response.status,
  headers: response.headers as Sent['headers'],
  body: response.body as unknown,
});

/** Row counts and a checksum of every table: what a rejected request must leave as it was. */
async function fingerprint(): Promise<string> {
  const tables = ['channels', 'videos', 'transcripts', 'processing_jobs', 'processing_sessions'];
  const sums = tables.map(
    (table) => `SELECT count(*) || md5(coalesce(string_agg(x::text, '' ORDER BY id), '')) FROM ${table} x`,
  );
  const { rows } = await testDatabase().db.raw(`SELECT concat_ws(',', (${sums.join('), (')})) AS all`);
  return rows[0].all as string;
}

/** Rows of every kind for generated requests to find: their ids, YouTube ids, lease tokens and a cursor. */
async function seedRows(): Promise<Pools> {
  const channels = await channelFactory.createList(3);
  const videos = await Promise.all(channels.map((channel) => videoFactory.create({ channelId: channel.id })));
  const transcripts = await Promise.all(
    videos.map((video) => transcriptFactory.create({ videoId: video.id })),
  );
  const sessions = [
    await processingSessionFactory.transient({ jobs: 2 }).create(),
    await processingSessionFactory.trait('running').transient({ jobs: 2 }).create(),
    await processingSessionFactory.trait('paused').create(),
  ];
  const jobs = [
    await processingJobFactory.trait('running').create(),
    await processingJobFactory.trait('exhausted').create(),
    await processingJobFactory.trait('discovery', 'running').create({ entityId: channels[0]!.id }),
  ];
  const db = testDatabase().db;
  const allJobs = await db('processing_jobs').select<{ id: string; lease_token: string | null }[]>(
    'id',
    'lease_token',
  );
  const page = await request(apps.development.app.server)
    .get(`${restPrefix}/channels?limit=1`)
    .set('authorization', `Bearer ${tokens.reader}`);
  const ids = (rows: { id: string }[]) => rows.map((row) => row.id);
  return {
    id: [...ids(channels), ...ids(videos), ...ids(transcripts), ...ids(sessions), ...ids(allJobs)],
    channelId: ids(channels),
    videoId: ids(videos),
    sessionId: ids(sessions),
    entityId: [...ids(channels), ...ids(videos), ...ids(jobs)],
    youtubeChannelId: channels.map((channel) => channel.youtubeChannelId),
    youtubeVideoId: videos.map((video) => video.youtubeVideoId),
    leaseToken: allJobs.flatMap((job) => (job.lease_token ? [job.lease_token] : [])),
    cursor: [page.body.nextCursor as string],
  };
}

const tally = { requests: 0, fitting: 0, byStatus: new Map<number, number>() };

describe('the OpenAPI document, held against the server', () => {
  let arbitraries: RequestArbitraries;
  beforeAll(async () => {
    arbitraries = new RequestArbitraries(document, await seedRows(), shortWaits);
  });

  for (const { method, template } of operations) {
    it(`${method.toUpperCase()} ${template} responds only as the document says, to requests fitting it or not, with any token, in either mode`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...(Object.keys(apps) as (keyof typeof apps)[])),
          fc.constantFrom(...Object.keys(credentials)),
          fc.oneof(arbitraries.fitting(method, template), arbitraries.broken(method, template)),
          async (mode, holder, generated) => {
            const before = generated.broken ? await fingerprint() : undefined;
            const response = await send(apps[mode].app, method, generated, credentials[holder]);
            tally.requests += 1;
            tally.byStatus.set(response.status, (tally.byStatus.get(response.status) ?? 0) + 1);
            const context = described({
              mode,
              holder,
              generated,
              status: response.status,
              body: response.body,
            });
            expect(response.status, context).toBeLessThan(500);
            expect(validator.mismatches({ method, path: template, ...response }), context).toEqual([]);
            if (!generated.broken) {
              tally.fitting += 1;
              // What the document accepts no schema of the server rejects: rules JSON Schema cannot say (a
              // batch naming a job twice) are custom issues, described in words instead.
              const issues = (response.body as { issues?: { code: string }[] | null }).issues ?? [];
              expect(
                issues.filter((issue) => issue.code !== 'custom'),
                context,
              ).toEqual([]);
            }
            if (before !== undefined && response.status >= 400)
              expect(await fingerprint(), context).toBe(before);
          },
        ),
        { numRuns: runsPerOperation, seed },
      );
    });
  }

  it('saw every kind of response it was built to provoke', () => {
    console.info(
      `openapi contract: ${tally.requests} requests over ${operations.length} operations, ${tally.fitting} fitting the document; by status: ${JSON.stringify(Object.fromEntries([...tally.byStatus].sort()))}`,
    );
    for (const status of [200, 400, 401, 403, 404, 413, 415])
      expect(tally.byStatus.get(status)).toBeGreaterThan(0);
  });

  it('documents a conflict as it is sent: a session moved where its status does not allow', async () => {
    const session = await processingSessionFactory.create();
    for (const mode of Object.keys(apps) as (keyof typeof apps)[]) {
      const response = await request(apps[mode].app.server)
        .post(`${restPrefix}/sessions/${session.id}/pause`)
        .set('authorization', `Bearer ${tokens.admin}`);
      expect(response.status).toBe(409);
      expect(
        validator.mismatches({ method: 'post', path: '/sessions/{id}/pause', ...seen(response) }),
      ).toEqual([]);
    }
  });

  it('documents a failure as it is sent, in either mode: a stored row its response schema rejects', async () => {
    await withUnreadableChannel(async (id) => {
      for (const mode of Object.keys(apps) as (keyof typeof apps)[]) {
        const response = await request(apps[mode].app.server)
          .get(`${restPrefix}/channels/${id}`)
          .set('authorization', `Bearer ${tokens.reader}`);
        expect(response.status).toBe(500);
        expect(validator.mismatches({ method: 'get', path: '/channels/{id}', ...seen(response) })).toEqual(
          [],
        );
      }
    });
  });
});

describe('the OpenAPI document, with the database out of reach', () => {
  let db: Knex;
  let app: FastifyInstance;
  let arbitraries: RequestArbitraries;
  beforeAll(async () => {
    // A port nothing listens on: every query fails to connect at once. Its warnings are what this test expects.
    const settings = { DATABASE_POOL_SIZE: 1, DATABASE_CONNECT_TIMEOUT_MS: 500, DEBUG: false };
    const quiet = () => undefined;
    db = knex({
      ...knexConfig('postgres://postgres@127.0.0.1:1/nowhere', settings),
      log: { warn: quiet, error: quiet, debug: quiet, deprecate: quiet },
    });
    app = await buildApp({ db, logger: false, tokens: configured, production: true });
    await app.ready();
    // A cursor of the form the API issues, so a list is not rejected before it would reach the database.
    const cursor = Buffer.from(
      JSON.stringify(['2026-01-01T00:00:00.000Z', '5f0c4f4e-8d36-4c8e-9a51-000000000001']),
    );
    arbitraries = new RequestArbitraries(document, { cursor: [cursor.toString('base64url')] }, shortWaits);
  });
  afterAll(async () => {
    await app?.close();
    await db?.destroy();
  });

  it('responds to every operation that needs the database with 503 with Retry-After, as documented', async () => {
    // All at once: each waits out the connection timeout. A request the document fits may still break a rule it
    // states in words (an update that changes nothing, say), so each operation gets up to twenty. One that
    // succeeds needs no database (the caller's own role, say).
    await Promise.all(
      operations.map(async ({ method, template }) => {
        const statuses: number[] = [];
        for (const generated of fc.sample(arbitraries.fitting(method, template), { numRuns: 20, seed })) {
          const response = await send(app, method, generated, tokens.admin);
          const context = described({
            method,
            template,
            generated,
            status: response.status,
            body: response.body,
          });
          expect(validator.mismatches({ method, path: template, ...response }), context).toEqual([]);
          statuses.push(response.status);
          if (response.status === 503 || response.status === 200) break;
        }
        expect([503, 200], `${method.toUpperCase()} ${template}: ${statuses.join(', ')}`).toContain(
          statuses.at(-1),
        );
      }),
    );
  });
});

describe('what Fastify rejects before any procedure runs', () => {
  const oversized = `{"name":"${'x'.repeat(6 * 1024 * 1024)}"}`;
  const cases = (prefix: string, create: string, withParameter: string) => [
    { what: 'a path that names no route', method: 'get', path: `${prefix}/no/such/route`, status: 404 },
    { what: 'the prefix alone', method: 'get', path: prefix, status: 404 },
    { what: 'a path that does not decode', method: 'get', path: `${prefix}/%zz`, status: 400 },
    {
      what: 'a path parameter past the router’s length',
      method: 'get',
      path: withParameter.replace(':', 'a'.repeat(5_001)),
      status: 400,
    },
    { what: 'a text body', method: 'post', path: create, type: 'text/plain', body: 'a channel', status: 415 },
    { what: 'an XML body', method: 'post', path: create, type: 'application/xml', body: '<a/>', status: 415 },
    {
      what: 'a body past the size limit',
      method: 'post',
      path: create,
      type: 'application/json',
      body: oversized,
      status: 413,
    },
  ];

  const send = ({
    method,
    path,
    type,
    body,
  }: {
    method: string;
    path: string;
    type?: string;
    body?: string;
  }) => {
    const agent = request(apps.production.app.server);
    const call = (method === 'get' ? agent.get(path) : agent.post(path)).set(
      'authorization',
      `Bearer ${tokens.admin}`,
    );
    return type === undefined ? call : call.set('content-type', type).send(body);
  };

  for (const rejected of cases(restPrefix, `${restPrefix}/channels`, `${restPrefix}/channels/:`)) {
    it(`responds to ${rejected.what} over REST with ${rejected.status} in the API's error shape`, async () => {
      const response = await send(rejected);
      expect(response.status).toBe(rejected.status);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(restErrorBody.parse(response.body)).toMatchObject({ code: frameworkCode[rejected.status] });
      // Where the path is an operation's, the response is one the document gives it.
      const template = validator.templateOf(rejected.method, rejected.path);
      if (template !== undefined)
        expect(validator.mismatches({ method: rejected.method, path: template, ...seen(response) })).toEqual(
          [],
        );
    });
  }

  for (const rejected of cases('/trpc', '/trpc/channels.create', '/trpc/:')) {
    it(`responds to ${rejected.what} over tRPC with ${rejected.status} in tRPC's error shape, with the API's detail`, async () => {
      const response = await send(rejected);
      expect(response.status).toBe(rejected.status);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      const { json } = (response.body as { error: { json: { message: string; data: ErrorData } } }).error;
      expect(json.data).toMatchObject({ code: frameworkCode[rejected.status], httpStatus: rejected.status });
      expect(
        errorDetail.parse({ message: json.message, field: json.data.field, issues: json.data.issues }),
      ).toEqual({
        message: json.message,
        field: null,
        issues: null,
      });
    });
  }
});

describe('the OpenAPI document', () => {
  const operationsWith = (check: (operation: Record<string, unknown>, method: string) => boolean) =>
    Object.entries(document.paths ?? {}).flatMap(([template, item]) =>
      Object.entries(item as Record<string, Record<string, unknown>>)
        .filter(([method, operation]) => check(operation, method))
        .map(([method]) => `${method.toUpperCase()} ${template}`),
    );
  const body = (template: string, method = 'post') =>
    (
      document.paths?.[template] as Record<
        string,
        { requestBody: { content: Record<string, { schema: Schema }> } }
      >
    )[method]!.requestBody.content['application/json']!.schema;
  type Schema = Record<string, unknown> & { properties: Record<string, Schema> };

  it('gives every error the body every error response has: code, message, field and issues, and nothing else', () => {
    const schemas = document.components?.schemas as Record<string, Schema>;
    const errors = Object.keys(schemas).filter((name) => name.startsWith('Error.'));
    expect(errors.length).toBeGreaterThan(8);
    for (const name of errors) {
      expect(schemas[name]).toMatchObject({
        required: ['code', 'message', 'field', 'issues'],
        additionalProperties: false,
        properties: { code: { const: name.replace('Error.', '') }, field: { type: ['string', 'null'] } },
      });
      const issues = schemas[name]!.properties.issues as unknown as { anyOf: { items: Schema }[] };
      const issue = issues.anyOf[0]!.items;
      expect(issue).toMatchObject({ required: ['path', 'message', 'code'], additionalProperties: false });
    }
  });

  it('documents 201 on every create and 200 on every other operation; 400, 401, 500 and 503 with Retry-After on all; 404 where the path names a row; 409, 413 and 415 on every write; 403 where a role may not call it', () => {
    const has = (status: number) => (operation: Record<string, unknown>) =>
      status in (operation.responses as Record<string, unknown>);
    const creates = operationsWith(has(201));
    expect(creates.sort()).toEqual(['POST /channels', 'POST /sessions', 'POST /transcripts', 'POST /videos']);
    expect(operationsWith((o) => !has(200)(o) && !has(201)(o))).toEqual([]);
    expect(operationsWith((o) => has(200)(o) && has(201)(o))).toEqual([]);
    for (const status of [400, 401, 500, 503]) expect(operationsWith((o) => !has(status)(o))).toEqual([]);
    expect(
      operationsWith((o, method) => method !== 'get' && !(has(409)(o) && has(413)(o) && has(415)(o))),
    ).toEqual([]);
    expect(operationsWith((o, method) => method === 'get' && (has(409)(o) || has(413)(o)))).toEqual([]);
    expect(operationsWith(has(403))).toContain('DELETE /channels/{id}');
    expect(operationsWith(has(403))).not.toContain('GET /channels');
    expect(operationsWith(has(404))).toContain('GET /channels/{id}');
    expect(operationsWith(has(404))).not.toContain('GET /channels');
    const unavailable = document.components?.responses?.ServiceUnavailable as {
      headers: Record<string, unknown>;
    };
    expect(unavailable.headers['Retry-After']).toMatchObject({ required: true, schema: { type: 'integer' } });
  });

  it('says which inputs reject what they do not name, which text is trimmed, which URLs are http(s) only, what a cursor looks like, and which entity each job type takes', () => {
    expect(body('/jobs')).toMatchObject({ additionalProperties: false });
    expect(
      operationsWith((o) => {
        const schema = (o.requestBody as { content: Record<string, { schema: Schema }> } | undefined)
          ?.content['application/json']?.schema;
        return schema !== undefined && schema.additionalProperties !== false;
      }),
    ).toEqual([]);
    expect(body('/channels').properties.name).toMatchObject({
      pattern: '\\S',
      description: expect.stringMatching(/trimmed/),
    });
    expect(body('/channels').properties.channelUrl).toMatchObject({
      format: 'uri',
      pattern: '^[Hh][Tt][Tt][Pp][Ss]?://',
    });
    const list = document.paths?.['/channels']?.get as unknown as {
      parameters: { name: string; schema: Schema }[];
    };
    expect(list.parameters.find((parameter) => parameter.name === 'cursor')?.schema).toMatchObject({
      pattern: '^[A-Za-z0-9_-]+$',
    });
    expect(body('/jobs').oneOf).toEqual([
      { properties: { jobType: { const: 'channel_discovery' }, entityType: { const: 'channel' } } },
      { properties: { jobType: { const: 'transcript_extraction' }, entityType: { const: 'video' } } },
    ]);
  });

  it('is held to by the validator, which names an undocumented status, a body that does not fit and a missing header', () => {
    const error = { code: 'NOT_FOUND', message: 'channel x not found', field: 'id', issues: null };
    const response = {
      method: 'get',
      path: '/channels/{id}',
      headers: { 'content-type': 'application/json' },
    };
    expect(validator.mismatches({ ...response, status: 404, body: error })).toEqual([]);
    expect(validator.mismatches({ ...response, status: 418, body: error })).toEqual([
      'GET /channels/{id} 418: the operation documents no 418 response',
    ]);
    expect(validator.mismatches({ ...response, status: 404, body: { ...error, field: undefined } })).toEqual([
      expect.stringMatching(/^GET \/channels\/\{id\} 404: body does not fit the schema: .*field/),
    ]);
    const unavailable = { ...error, code: 'SERVICE_UNAVAILABLE', field: null };
    expect(validator.mismatches({ ...response, status: 503, body: unavailable })).toEqual([
      'GET /channels/{id} 503: header Retry-After is missing',
    ]);
    expect(
      validator.mismatches({
        ...response,
        status: 503,
        headers: { ...response.headers, 'retry-after': '1' },
        body: unavailable,
      }),
    ).toEqual([]);
    expect(validator.templateOf('POST', '/api/jobs/claim')).toBe('/jobs/claim');
    expect(validator.templateOf('POST', '/api/jobs/5f0c4f4e-8d36-4c8e-9a51-000000000001/complete?x=1')).toBe(
      '/jobs/{id}/complete',
    );
  });
});
