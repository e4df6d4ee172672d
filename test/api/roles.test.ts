import request from 'supertest';
import { describe, expect, it } from 'vitest';
import type { AnyProcedure } from '@trpc/server';
import type { OpenApiMeta } from 'trpc-to-openapi';
import { appRouter } from '../../src/api/router';
import { parseConfig, apiTokens } from '../../src/config';
import { channelFactory } from '../../dev/factories';
import { useApi } from '../support/api';
import { testDatabase } from '../support/database';

const tokens = {
  admin: 'admin-token-0123456789',
  worker: 'worker-token-0123456789',
  reader: 'reader-token-0123456789',
} as const;
const api = useApi({
  tokens: Object.entries(tokens).map(([role, token]) => ({ role: role as keyof typeof tokens, token })),
});
const bearer = (role: keyof typeof tokens) => ({ authorization: `Bearer ${tokens[role]}` });

/** Written out here, not read from the router: the contract each role is promised. */
const workerMutations = [
  'jobs.claim',
  'jobs.heartbeat',
  'jobs.complete',
  'jobs.completeMany',
  'jobs.fail',
  'jobs.release',
  'jobs.snooze',
  'jobs.enqueue',
  'jobs.enqueueMany',
  'videos.upsertMany',
  'transcripts.create',
];

const procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, AnyProcedure>).map(
  ([name, procedure]) => ({
    name,
    type: procedure._def.type as 'query' | 'mutation',
    route: (procedure._def.meta as OpenApiMeta | undefined)?.openapi,
  }),
);

const allowed = (role: keyof typeof tokens, name: string, type: string) =>
  role === 'admin' || type === 'query' || (role === 'worker' && workerMutations.includes(name));

describe('roles', () => {
  it.each(['reader', 'worker', 'admin'] as const)(
    'lets a %s token make exactly the calls its role allows, over tRPC, and rejects the rest with 403',
    async (role) => {
      for (const { name, type } of procedures) {
        const call = type === 'query' ? api.query : api.mutate;
        const response = await call(name, {}, bearer(role));
        if (allowed(role, name, type)) expect(response.status, name).not.toBe(403);
        else {
          expect(response.status, name).toBe(403);
          expect(response.error?.data.code).toBe('FORBIDDEN');
          expect(response.error?.message).toMatch(
            new RegExp(`^a ${role} token may not make this call; it needs (admin|worker or admin)$`),
          );
        }
      }
    },
  );

  it('rejects over REST what it rejects over tRPC, and a denied delete changes nothing', async () => {
    const channel = await channelFactory.create();
    for (const role of ['reader', 'worker'] as const) {
      const denied = await request(api.app.server).delete(`/api/channels/${channel.id}`).set(bearer(role));
      expect(denied.status).toBe(403);
      expect(denied.body).toMatchObject({ code: 'FORBIDDEN' });
    }
    expect(await testDatabase().db('channels').where({ id: channel.id }).first()).toMatchObject({
      id: channel.id,
      name: channel.name,
    });
    const rest = procedures.filter((procedure) => procedure.route);
    expect(rest.length).toBe(procedures.length);
    const deleted = await request(api.app.server).delete(`/api/channels/${channel.id}`).set(bearer('admin'));
    expect(deleted.status).toBe(200);
  });

  it('responds with 401, not 403, for a token it does not know', async () => {
    expect(
      (await api.query('channels.list', {}, { authorization: 'Bearer unknown-token-0123456' })).status,
    ).toBe(401);
  });

  it('reads roles from API_TOKENS, keeps API_TOKEN as an admin token, and names a bad entry', () => {
    const config = parseConfig({
      API_TOKEN: 'the-admin-token-123',
      API_TOKENS: 'worker:the-worker-token-12, reader:the:reader:token:12',
    });
    // A token may hold colons: only the first one ends the role.
    expect(apiTokens(config)).toEqual([
      { role: 'admin', token: 'the-admin-token-123' },
      { role: 'worker', token: 'the-worker-token-12' },
      { role: 'reader', token: 'the:reader:token:12' },
    ]);
    expect(() => parseConfig({ API_TOKENS: 'root:the-worker-token-12' })).toThrow(/API_TOKENS/);
    expect(() => parseConfig({ API_TOKENS: 'worker:short' })).toThrow(/16 characters[^]*at API_TOKENS/);
  });

  it('documents the bearer scheme and the roles of each operation in the OpenAPI document', async () => {
    const document = (await request(api.app.server).get('/openapi.json')).body;
    expect(document.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(document.paths['/channels/{id}'].delete.description).toBe('Roles: admin.');
    expect(document.paths['/jobs/claim'].post.description).toBe('Roles: worker, admin.');
    expect(document.paths['/channels'].get.description).toBe('Roles: reader, worker, admin.');
  });
});
