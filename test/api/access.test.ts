import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { useApi } from '../support/api';

const token = 'a-long-enough-test-token';
const secured = useApi({ apiToken: token, production: true });
const open = useApi();

describe('access', () => {
  it('refuses a call without the bearer token, or with a wrong one, when a token is set', async () => {
    expect((await secured.query('channels.list', {})).status).toBe(401);
    const wrong = await secured.query('channels.list', {}, { authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(wrong.error?.data.code).toBe('UNAUTHORIZED');
  });

  it('accepts the right token', async () => {
    const response = await secured.query('channels.list', {}, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(200);
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

  it('leaves stack traces out of production answers', async () => {
    const response = await secured.query(
      'channels.get',
      { id: 'nope' },
      { authorization: `Bearer ${token}` },
    );
    expect(response.status).toBe(400);
    expect(response.error?.data.stack).toBeUndefined();
  });

  it('sets common security headers', async () => {
    const response = await request(open.app.server).get('/health');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['x-frame-options']).toBeDefined();
  });
});
