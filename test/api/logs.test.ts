import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app';
import { channelFactory } from '../../dev/factories';
import { testDatabase } from '../support/database';

/** An app whose log lines (JSON, one object each) are collected. */
async function loggedApp(level: string, production: boolean) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const app = await buildApp({
    db: testDatabase().db,
    logger: { level, stream: sink },
    tokens: [],
    production,
  });
  return { app, lines };
}

describe('logs', () => {
  it('never contain the API token or the database password', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const token = 'secret-token-that-must-not-leak';
    const app = await buildApp({
      db: testDatabase().db,
      logger: { level: 'trace', stream: sink },
      tokens: [{ token, role: 'admin' }],
      production: true,
    });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    await app.inject({
      method: 'POST',
      url: '/trpc/channels.create',
      headers,
      payload: { json: channelFactory.build() },
    });
    await app.inject({
      method: 'GET',
      url: '/trpc/channels.get?input=%7B%22json%22%3A%7B%22id%22%3A%22nope%22%7D%7D',
      headers,
    });
    await app.inject({
      method: 'GET',
      url: '/trpc/channels.list',
      headers: { authorization: 'Bearer wrong-guess' },
    });
    await app.close();
    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(3);
    expect(log).not.toContain(token);
    expect(log).not.toContain('wrong-guess');
    const password = new URL(testDatabase().url).password;
    if (password) expect(log).not.toContain(password);
  });

  it('write one line per procedure call and one per request, each with the request id', async () => {
    const { app, lines } = await loggedApp('info', false);
    const started = performance.now();
    await app.inject({
      method: 'GET',
      url: '/api/channels?limit=1',
      headers: { 'x-request-id': 'trace-me' },
    });
    const elapsedMs = performance.now() - started;
    await app.inject({ method: 'GET', url: '/api/videos/not-a-uuid', headers: { 'x-request-id': 'and-me' } });
    await app.close();

    const of = (id: string) => lines.filter((line) => line.reqId === id);
    expect(of('trace-me')).toEqual([
      expect.objectContaining({
        msg: 'procedure',
        procedure: 'channels.list',
        outcome: 'ok',
        durationMs: expect.any(Number),
      }),
      expect.objectContaining({
        msg: 'request',
        method: 'GET',
        url: '/api/channels?limit=1',
        statusCode: 200,
      }),
    ]);
    // Each in milliseconds, to a hundredth: the call inside the request, the request inside the test's own clock.
    const [call, responded] = of('trace-me').map((line) => line.durationMs as number);
    for (const duration of [call!, responded!]) expect(duration).toBe(Math.round(duration * 100) / 100);
    expect(call).toBeGreaterThan(0);
    expect(call).toBeLessThanOrEqual(responded! + 0.01);
    expect(responded).toBeLessThanOrEqual(elapsedMs + 0.01);
    expect(lines.some((line) => line.msg === 'incoming request')).toBe(false);
    expect(of('and-me')).toEqual([
      expect.objectContaining({ procedure: 'videos.get', outcome: 'BAD_REQUEST' }),
      expect.objectContaining({ msg: 'request', statusCode: 400 }),
    ]);
  });

  it('log a failed procedure once, at error level with its cause, on every path; a rejection is not an error', async () => {
    const { app, lines } = await loggedApp('trace', true);
    const channel = await channelFactory.create();
    // A row no response can carry (a number past what JavaScript holds): the procedure fails, which only a bug or
    // a bad migration causes.
    const { db } = testDatabase();
    await db('channels')
      .where({ id: channel.id })
      .update({ metadata: db.raw(`'{"subscribers": 1e400}'::jsonb`) });
    const input = encodeURIComponent(JSON.stringify({ json: { id: channel.id } }));
    const calls = [
      { url: `/trpc/channels.get?input=${input}`, id: 'plain' },
      {
        url: `/trpc/channels.get?batch=1&input=${encodeURIComponent(JSON.stringify({ 0: { json: { id: channel.id } } }))}`,
        id: 'streamed',
        headers: { 'trpc-accept': 'application/jsonl' },
      },
      { url: `/api/channels/${channel.id}`, id: 'rest' },
      { url: '/api/channels/00000000-0000-4000-8000-000000000000', id: 'missing' },
    ];
    for (const call of calls)
      await app.inject({
        method: 'GET',
        url: call.url,
        headers: { 'x-request-id': call.id, ...call.headers },
      });
    await app.close();
    await testDatabase().db('channels').where({ id: channel.id }).delete();

    const failures = (id: string) => lines.filter((line) => line.reqId === id && line.level === 50);
    for (const id of ['plain', 'streamed', 'rest']) {
      expect(failures(id), id).toHaveLength(1);
      expect(failures(id)[0]).toMatchObject({
        msg: 'procedure failed',
        err: { message: expect.any(String) },
      });
    }
    expect(failures('plain')[0]).toMatchObject({ path: 'channels.get' });
    expect(failures('missing')).toEqual([]);

    const incoming = lines.filter((line) => line.msg === 'incoming request');
    expect(incoming).toHaveLength(calls.length);
    expect(incoming[0]).toMatchObject({ level: 20, method: 'GET', url: calls[0]!.url });
    for (const line of lines.filter((l) => l.msg === 'request')) {
      const centis = (line.durationMs as number) * 100;
      expect(Math.abs(centis - Math.round(centis))).toBeLessThan(1e-6);
    }
  });
});
