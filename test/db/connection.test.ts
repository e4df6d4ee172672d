import { describe, expect, it } from 'vitest';
import { retryAfterSeconds } from '../../src/api/error-shape';
import { buildApp } from '../../src/app';
import { parseConfig } from '../../src/config';
import { connect } from '../../src/db/connect';
import { translateDatabaseError } from '../../src/services/database-errors';
import { UnavailableError } from '../../src/services/errors';
import { testDatabase } from '../support/database';

describe('connecting', () => {
  it('fails fast with a clear error when the database cannot be reached', async () => {
    const db = connect('postgres://postgres@127.0.0.1:1/none', {
      DATABASE_POOL_SIZE: 1,
      DATABASE_CONNECT_TIMEOUT_MS: 1_000,
      DEBUG: false,
    });
    const started = Date.now();
    const error = await db.raw('SELECT 1').catch((caught: unknown) => caught);
    await db.destroy();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(translateDatabaseError(error)).toBeInstanceOf(UnavailableError);
  });
});

describe('a pool with every connection busy', () => {
  it('fails a call that waits for one once DATABASE_CONNECT_TIMEOUT_MS has passed, as unavailable', async () => {
    const db = connect(testDatabase().url, {
      DATABASE_POOL_SIZE: 1,
      DATABASE_CONNECT_TIMEOUT_MS: 300,
      DEBUG: false,
    });
    const holding = await db.transaction();
    try {
      const started = Date.now();
      const error = await db.raw('SELECT 1').catch((caught: unknown) => caught);
      expect(Date.now() - started).toBeGreaterThanOrEqual(290);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(translateDatabaseError(error)).toBeInstanceOf(UnavailableError);
    } finally {
      await holding.rollback();
      await db.destroy();
    }
  });
});

describe('configuration', () => {
  it('applies defaults when nothing is set', () => {
    expect(parseConfig({})).toMatchObject({
      DATABASE_POOL_SIZE: 20,
      PORT: 3000,
      LOG_LEVEL: 'info',
      DEBUG: false,
    });
  });

  it('names the variable that is wrong', () => {
    expect(() => parseConfig({ DATABASE_POOL_SIZE: 'many' })).toThrow(/DATABASE_POOL_SIZE/);
    expect(() => parseConfig({ DATABASE_URL: 'mysql://localhost/x' })).toThrow(/DATABASE_URL/);
    expect(() => parseConfig({ LOG_LEVEL: 'loud' })).toThrow(/LOG_LEVEL/);
  });

  it('rejects a production configuration of the API without a token, and takes one of the scheduler, which serves nothing', () => {
    expect(() => parseConfig({ NODE_ENV: 'production' })).toThrow(/API_TOKEN \(or API_TOKENS\) is required/);
    expect(parseConfig({ NODE_ENV: 'production', API_TOKEN: 'x'.repeat(16) }).API_TOKEN).toHaveLength(16);
    expect(parseConfig({ NODE_ENV: 'production' }, 'scheduler').API_TOKEN).toBeUndefined();
  });

  it('reads CORS origins as a list of URLs, and none by default', () => {
    expect(parseConfig({}).CORS_ORIGINS).toEqual([]);
    expect(parseConfig({ CORS_ORIGINS: 'https://a.example, https://b.example' }).CORS_ORIGINS).toEqual([
      'https://a.example',
      'https://b.example',
    ]);
    expect(() => parseConfig({ CORS_ORIGINS: 'not a url' })).toThrow(/CORS_ORIGINS/);
  });

  it('treats empty values as unset and reads booleans', () => {
    const config = parseConfig({ DATABASE_URL: '', DEBUG: 'true' });
    expect(config.DATABASE_URL).toBeUndefined();
    expect(config.DEBUG).toBe(true);
  });
});

describe('readiness', () => {
  it('reports 503 when the database cannot be reached', async () => {
    const db = connect('postgres://postgres@127.0.0.1:1/none', {
      DATABASE_POOL_SIZE: 1,
      DATABASE_CONNECT_TIMEOUT_MS: 500,
      DEBUG: false,
    });
    const app = await buildApp({ db, logger: false, tokens: [], production: false });
    const response = await app.inject({ method: 'GET', url: '/ready' });
    await app.close();
    await db.destroy();
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'database unavailable' });
  });

  it('responds with SERVICE_UNAVAILABLE with a time to retry, not a 500, when a procedure cannot reach the database', async () => {
    const db = connect('postgres://postgres@127.0.0.1:1/none', {
      DATABASE_POOL_SIZE: 1,
      DATABASE_CONNECT_TIMEOUT_MS: 500,
      DEBUG: false,
    });
    const app = await buildApp({ db, logger: false, tokens: [], production: true });
    try {
      for (const url of [
        '/trpc/channels.list?input=%7B%22json%22%3A%7B%7D%7D',
        `/trpc/channels.list,videos.list?batch=1&input=${encodeURIComponent('{"0":{"json":{}},"1":{"json":{}}}')}`,
        '/api/channels',
      ]) {
        const response = await app.inject({ method: 'GET', url });
        expect(response.statusCode, url).toBe(503);
        expect(response.headers['retry-after'], url).toBe(retryAfterSeconds);
        expect(response.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
      }
      // Rejected before it needs the database: no time to retry.
      for (const url of [
        '/api/channels/not-a-uuid',
        `/trpc/channels.get?input=${encodeURIComponent('{"json":{"id":"nope"}}')}`,
      ]) {
        const rejected = await app.inject({ method: 'GET', url });
        expect(rejected.statusCode, url).toBe(400);
        expect(rejected.headers['retry-after'], url).toBeUndefined();
      }
    } finally {
      await app.close();
      await db.destroy();
    }
  });
});
