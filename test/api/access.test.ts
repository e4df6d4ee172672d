import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { type Api, useApi, withUnreadableChannel } from '../support/api';
import { testDatabase } from '../support/database';

const token = 'a-long-enough-test-token';
const secured = useApi({ apiToken: token, production: true });
const open = useApi();

describe('access', () => {
  it('rejects a call without the bearer token, or with a wrong one, when a token is set', async () => {
    expect((await secured.query('channels.list', {})).status).toBe(401);
    const wrong = await secured.query('channels.list', {}, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.error?.data.code).toBe('UNAUTHORIZED');
    expect(wrong.error?.message).toBe('a valid bearer token is required');
  });

  it('accepts the right token, whatever the case of its scheme and however many spaces come before it', async () => {
    for (const scheme of ['Bearer ', 'bearer ', 'BEARER ', 'Bearer   ']) {
      const response = await secured.query('channels.list', {}, { authorization: `${scheme}${token}` });
      expect(response.status, scheme).toBe(200);
    }
  });

  it('rejects a REST request without a valid token with 401 before reading its body or looking up its route', async () => {
    const malformed = () =>
      request(secured.app.server)
        .post('/api/channels')
        .set('content-type', 'application/json')
        .send('{"name":');
    const unknown = () => request(secured.app.server).get('/api/no-such-operation');
    for (const response of [await malformed(), await unknown()]) {
      expect(response.status).toBe(401);
      expect(response.body).toMatchObject({
        code: 'UNAUTHORIZED',
        message: 'a valid bearer token is required',
      });
    }
    expect((await malformed().set('authorization', `Bearer ${token}`)).status).toBe(400);
    expect((await unknown().set('authorization', `Bearer ${token}`)).status).toBe(404);
  });

  it('needs no token when none is set', async () => {
    expect((await open.query('channels.list', {})).status).toBe(200);
  });

  it('keeps health checks open and reports readiness', async () => {
    expect((await request(secured.app.server).get('/health')).status).toBe(200);
    const ready = await request(secured.app.server).get('/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ready' });
  });

  it('leaves stack traces out of production responses', async () => {
    const response = await secured.query(
      'channels.get',
      { id: 'nope' },
      { authorization: `Bearer ${token}` },
    );
    expect(response.status).toBe(400);
    expect(response.error?.data.stack).toBeUndefined();
  });

  it('responds to a failed call with its message and stack in development, and with neither in production', async () => {
    await withUnreadableChannel(async (id) => {
      const development = await open.query('channels.get', { id });
      expect(development.status).toBe(500);
      expect(development.error?.message).toBe('Output validation failed');
      expect(development.error?.data.stack).toMatch(/Output validation failed/);
      const production = await secured.query('channels.get', { id }, { authorization: `Bearer ${token}` });
      expect(production.status).toBe(500);
      expect(production.error?.message).toBe('Internal server error');
      expect(production.error?.data.stack).toBeUndefined();
    });
  });

  it('sets common security headers', async () => {
    const response = await request(open.app.server).get('/health');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBe('SAMEORIGIN');
  });
});

describe('CORS', () => {
  const preflight = (app: Api['app']) =>
    request(app.server)
      .options('/trpc/channels.list')
      .set('origin', 'https://admin.example')
      .set('access-control-request-method', 'GET');

  it('is off unless origins are configured', async () => {
    expect((await preflight(open.app)).headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows exactly the configured origins', async () => {
    const app = await buildApp({
      db: testDatabase().db,
      logger: false,
      tokens: [],
      production: false,
      corsOrigins: ['https://admin.example'],
    });
    await app.ready();
    try {
      expect((await preflight(app)).headers['access-control-allow-origin']).toBe('https://admin.example');
      const other = await request(app.server)
        .options('/trpc/channels.list')
        .set('origin', 'https://evil.example')
        .set('access-control-request-method', 'GET');
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await app.close();
    }
  });
});
