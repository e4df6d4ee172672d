import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, TransportError } from '../../src/client';
import { judge } from '../../src/worker/calls';

/**
 * What a load balancer in front of the API responds with while the API is away: a status and headers, and a body
 * that is not the API's.
 */
let respond: { status: number; headers: Record<string, string> } = { status: 503, headers: {} };
let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((_request, response) => {
    response.writeHead(respond.status, { ...respond.headers, 'content-type': 'text/html' });
    response.end('<html><body>Service unavailable</body></html>');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** The error a worker's call gets when the response is as `respond` says. */
async function errorOn(status: number, headers: Record<string, string> = {}) {
  respond = { status, headers };
  const api = createClient({ url });
  const error = await api.jobs.heartbeat
    .mutate({
      id: '00000000-0000-4000-8000-000000000001',
      leaseToken: '00000000-0000-4000-8000-000000000002',
    })
    .then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
  expect(error).toBeDefined();
  return error;
}

const verdictOn = async (status: number, headers: Record<string, string> = {}) =>
  judge(await errorOn(status, headers));

describe('a worker’s call responded to by a proxy in front of the API', () => {
  it('reaches the caller as a TransportError with the status the proxy responded with', async () => {
    const error = await errorOn(502);
    expect(error).toBeInstanceOf(TransportError);
    expect(error).toMatchObject({ code: 'TRANSPORT_ERROR', httpStatus: 502 });
  });

  it('is tried again when a Retry-After date says, and no sooner', async () => {
    const at = new Date(Math.ceil((Date.now() + 120_000) / 1_000) * 1_000);
    const sentAt = Date.now();
    const verdict = await verdictOn(503, { 'retry-after': at.toUTCString() });
    const receivedAt = Date.now();
    expect(verdict.kind).toBe('retry');
    const { afterMs } = verdict as { afterMs: number };
    expect(afterMs).toBeGreaterThanOrEqual(at.getTime() - receivedAt);
    expect(afterMs).toBeLessThanOrEqual(at.getTime() - sentAt);
  });

  it('is tried again at once when the Retry-After date has passed, and after the usual backoff when it is no date', async () => {
    expect(await verdictOn(503, { 'retry-after': new Date(Date.now() - 60_000).toUTCString() })).toEqual({
      kind: 'retry',
      afterMs: 0,
    });
    expect(await verdictOn(503, { 'retry-after': 'soon' })).toEqual({ kind: 'retry', afterMs: undefined });
    expect(await verdictOn(502)).toEqual({ kind: 'retry', afterMs: undefined });
  });

  it('is tried again after the whole seconds a Retry-After gives', async () => {
    expect(await verdictOn(503, { 'retry-after': '120' })).toEqual({ kind: 'retry', afterMs: 120_000 });
    expect(await verdictOn(429, { 'retry-after': '0' })).toEqual({ kind: 'retry', afterMs: 0 });
  });

  it('reads a Retry-After in each form of an HTTP date as GMT, whatever the machine’s time zone', async () => {
    const at = new Date(Math.ceil((Date.now() + 120_000) / 1_000) * 1_000);
    const [weekday, day, month, year, time] = at.toUTCString().replace(',', '').split(' ') as [
      string,
      string,
      string,
      string,
      string,
    ];
    const longWeekday = at.toLocaleDateString('en-US', { weekday: 'long', timeZone: 'UTC' });
    const forms = [
      at.toUTCString(),
      `${longWeekday}, ${day}-${month}-${year.slice(2)} ${time} GMT`,
      `${weekday} ${month} ${day.replace(/^0/, ' ')} ${time} ${year}`,
    ];
    const zone = process.env.TZ;
    process.env.TZ = 'Asia/Tokyo';
    try {
      for (const form of forms) {
        const sentAt = Date.now();
        const verdict = (await verdictOn(503, { 'retry-after': form })) as { afterMs: number };
        expect(verdict.afterMs, form).toBeLessThanOrEqual(at.getTime() - sentAt);
        expect(verdict.afterMs, form).toBeGreaterThan(at.getTime() - sentAt - 5_000);
      }
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it('waits ten minutes at most, however long a Retry-After says', async () => {
    const inADay = new Date(Date.now() + 86_400_000).toUTCString();
    for (const value of ['86400', inADay]) {
      expect(await verdictOn(503, { 'retry-after': value })).toEqual({ kind: 'retry', afterMs: 600_000 });
    }
  });

  it('is tried again after the usual backoff, not at once, when a Retry-After is neither whole seconds nor a date', async () => {
    for (const value of ['1.5', '-5', '1e3', '5 GMT', 'May 5', 'in 5']) {
      expect(await verdictOn(503, { 'retry-after': value })).toEqual({ kind: 'retry', afterMs: undefined });
    }
  });

  it('is tried again for statuses that say nothing against the request, and not for those that reject it', async () => {
    for (const status of [401, 403, 429, 500, 502, 504]) {
      expect(await verdictOn(status)).toEqual({ kind: 'retry', afterMs: undefined });
    }
    for (const status of [400, 413, 422]) {
      expect(await verdictOn(status)).toMatchObject({ kind: 'invalid' });
    }
  });

  it('is not sent again when the proxy rejects the request itself as too large', async () => {
    expect(await verdictOn(413)).toMatchObject({ kind: 'invalid' });
  });
});
