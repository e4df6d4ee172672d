import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiToken } from '../../src/api/access';
import { adminContentSecurityPolicy, registerAdmin } from '../../src/http/admin';

const tokens: ApiToken[] = [
  { role: 'admin', token: 'admin-token-0123456789' },
  { role: 'reader', token: 'reader-token-0123456789' },
];

let built: string;
let empty: string;

// A build's shape, written here so the test needs no build: an index and a hashed script.
beforeAll(() => {
  built = mkdtempSync(path.join(tmpdir(), 'admin-built-'));
  mkdirSync(path.join(built, 'assets'));
  writeFileSync(
    path.join(built, 'index.html'),
    '<!doctype html><script type="module" src="/admin/assets/index-AbCd1234.js"></script>',
  );
  writeFileSync(path.join(built, 'assets', 'index-AbCd1234.js'), 'export {};');
  empty = mkdtempSync(path.join(tmpdir(), 'admin-empty-'));
});
afterAll(() => {
  rmSync(built, { recursive: true, force: true });
  rmSync(empty, { recursive: true, force: true });
});

async function appWith(options: { tokens: ApiToken[]; assetsDir: string }): Promise<FastifyInstance> {
  const app = Fastify({ logger: false });
  await registerAdmin(app, options);
  await app.ready();
  return app;
}

describe('the dashboard at /admin', () => {
  it('serves its page under a policy that allows only this origin’s files and calls, and its hashed files for good', async () => {
    const app = await appWith({ tokens, assetsDir: built });
    const page = await request(app.server).get('/admin/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toBe(adminContentSecurityPolicy);
    expect(adminContentSecurityPolicy).toMatch(/default-src 'none'; script-src 'self'; style-src 'self'/);
    expect(page.headers['cache-control']).toBe('no-cache');
    const script = await request(app.server).get('/admin/assets/index-AbCd1234.js');
    expect(script.status).toBe(200);
    expect(script.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(script.headers['content-security-policy']).toBe(adminContentSecurityPolicy);
    const bare = await request(app.server).get('/admin');
    expect([bare.status, bare.headers.location]).toEqual([301, '/admin/']);
    expect((await request(app.server).get('/admin/assets/missing.js')).status).toBe(404);
    await app.close();
  });

  it('says plainly that the dashboard is not built, rather than responding with 404', async () => {
    const app = await appWith({ tokens, assetsDir: empty });
    for (const url of ['/admin', '/admin/', '/admin/assets/index.js']) {
      const response = await request(app.server).get(url);
      expect(response.status, url).toBe(503);
      expect(response.text).toMatch(/run npm run build/);
    }
    await app.close();
  });
});

describe('the role the dashboard acts as, at /admin/role', () => {
  it('is the role of the bearer token, and a missing or unknown token is rejected with 401', async () => {
    const app = await appWith({ tokens, assetsDir: built });
    const roleOf = (authorization?: string) =>
      request(app.server)
        .get('/admin/role')
        .set(authorization ? { authorization } : {});
    expect((await roleOf('Bearer reader-token-0123456789')).body).toEqual({
      role: 'reader',
      tokensRequired: true,
    });
    expect((await roleOf('Bearer admin-token-0123456789')).body).toEqual({
      role: 'admin',
      tokensRequired: true,
    });
    const unknown = await roleOf('Bearer not-a-token-0123456789');
    expect([unknown.status, unknown.body.code]).toEqual([401, 'UNAUTHORIZED']);
    expect((await roleOf()).status).toBe(401);
    expect((await roleOf('Bearer reader-token-0123456789')).headers['cache-control']).toBe('no-store');
    await app.close();
  });

  it('is admin when the server takes no tokens, as every call may then do everything', async () => {
    const app = await appWith({ tokens: [], assetsDir: built });
    expect((await request(app.server).get('/admin/role')).body).toEqual({
      role: 'admin',
      tokensRequired: false,
    });
    await app.close();
  });
});
