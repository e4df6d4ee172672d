import type { FastifyInstance } from 'fastify';
import superjson from 'superjson';
import request from 'supertest';
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { ApiToken } from '../../src/api/access';
import { responseDates, type WireOutput } from '../../src/api/wire-format';
import { openApiDocument, restPrefix } from '../../src/http/openapi';
import { buildApp } from '../../src/app';
import { channelFactory } from '../../dev/factories';
import { testDatabase } from './database';
import { OpenApiValidator, watchResponses } from './openapi-validator';

let validator: OpenApiValidator | undefined;
/** The validator of the OpenAPI document, built once per test file, when a first REST response needs it. */
const documentValidator = () => (validator ??= new OpenApiValidator(openApiDocument()));

export interface ApiError {
  message: string;
  data: {
    code: string;
    httpStatus: number;
    field: string | null;
    issues: { path: (string | number)[] }[] | null;
    stack?: string;
  };
}

export interface ApiResponse<T = unknown> {
  status: number;
  data: T;
  error: ApiError | undefined;
}

export interface Api {
  readonly app: FastifyInstance;
  query<T = unknown>(
    path: string,
    input?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse<T>>;
  mutate<T = unknown>(
    path: string,
    input?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse<T>>;
}

/**
 * The HTTP app over the test file's database, built before the file's tests and closed after them; with
 * `perTest`, built before each test and closed after it, for tests of how the app is put together (its routes,
 * parsers, error handler, docs): mutation runs count code run in `beforeAll` as reached by no test, so only a
 * build inside each test puts those tests against a mutant of it. Every REST response a test receives is held to
 * the OpenAPI document: one it does not describe fails the file (or the test) once the app is closed.
 */
export function useApi(
  options: { apiToken?: string; tokens?: ApiToken[]; production?: boolean; perTest?: boolean } = {},
): Api {
  const perTest = options.perTest === true;
  let built: FastifyInstance | undefined;
  let mismatches: string[] = [];
  (perTest ? beforeEach : beforeAll)(async () => {
    built = await buildApp({
      db: testDatabase().db,
      logger: false,
      tokens: [
        ...(options.apiToken ? [{ token: options.apiToken, role: 'admin' as const }] : []),
        ...(options.tokens ?? []),
      ],
      production: options.production ?? false,
    });
    // Every REST response a test receives is held to the OpenAPI document.
    mismatches = watchResponses(built, restPrefix, documentValidator);
    await built.ready();
  });
  (perTest ? afterEach : afterAll)(async () => {
    await built?.close();
    expect(mismatches, 'REST responses the OpenAPI document does not describe').toEqual([]);
  });
  const app = () => {
    if (!built) throw new Error('The app is built before the tests: use it inside a test');
    return built;
  };
  return {
    get app() {
      return app();
    },
    query: (path, input, headers) => query(app(), path, input, headers),
    mutate: (path, input, headers) => mutate(app(), path, input, headers),
  };
}

function parse<T>(status: number, body: unknown): ApiResponse<T> {
  const payload = body as {
    result?: { data: WireOutput };
    error?: { json: ApiError };
  };
  return {
    status,
    data: (payload.result ? responseDates.deserialize(payload.result.data) : undefined) as T,
    error: payload.error?.json,
  };
}

/**
 * The input as the typed client sends it; what superjson refuses to encode (a `__proto__` key) goes as plain
 * JSON, so the server still has to deal with it.
 */
function encode(input: unknown): unknown {
  try {
    return superjson.serialize(input);
  } catch {
    return { json: input };
  }
}

/** Calls a query procedure over HTTP GET, the way tRPC's client does. */
export async function query<T = unknown>(
  app: FastifyInstance,
  path: string,
  input?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const encoded = encodeURIComponent(JSON.stringify(encode(input)));
  const response = await request(app.server).get(`/trpc/${path}?input=${encoded}`).set(headers);
  return parse<T>(response.status, response.body);
}

/** Calls a mutation procedure over HTTP POST. */
export async function mutate<T = unknown>(
  app: FastifyInstance,
  path: string,
  input?: unknown,
  headers: Record<string, string> = {},
): Promise<ApiResponse<T>> {
  const response = await request(app.server)
    .post(`/trpc/${path}`)
    .set(headers)
    .send(encode(input) as object);
  return parse<T>(response.status, response.body);
}

/**
 * Runs `check` with a channel whose stored metadata holds a number no response can carry (past what a JavaScript
 * number holds, written past the services, as a bad migration or a manual fix could), so reading it gets a 500
 * response; the row is deleted afterwards, as other tests of the file list channels.
 */
export async function withUnreadableChannel(check: (id: string) => Promise<void>): Promise<void> {
  const channel = await channelFactory.create();
  const rows = () => testDatabase().db('channels').where({ id: channel.id });
  await rows().update({ metadata: testDatabase().db.raw(`'{"subscribers": 1e400}'::jsonb`) });
  try {
    await check(channel.id);
  } finally {
    await rows().delete();
  }
}
