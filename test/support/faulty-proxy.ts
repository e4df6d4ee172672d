import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import knex from 'knex';
import { buildApp } from '../../src/app';
import { knexConfig } from '../../src/db/knex-config';
import { freePort } from './processes';

/** What the proxy does with one request. */
export type Fault =
  /** Forwarded to the API; its response passed back. */
  | 'pass'
  /**
   * Forwarded to the same API code over a database it cannot reach: the 503 with `retry-after` a caller gets
   * while PostgreSQL restarts.
   */
  | 'unavailable'
  /** The connection is reset before the request reaches the API: the call never ran. */
  | 'reset'
  /** Forwarded and run by the API, then the connection is reset instead of the response: the caller cannot tell. */
  | 'reset-after';

/** One request as the proxy saw it: each call of a tRPC batch, with its input. */
export interface ProxiedRequest {
  calls: { procedure: string; input: unknown }[];
  fault: Fault;
  /** When it arrived (`Date.now()`). */
  at: number;
  /** When its caller went away without waiting for the response (its call cut off), if it did. */
  callerLeftAt?: number;
  /** When the API's response to it was sent back in full, if it was. */
  respondedAt?: number;
}

export interface FaultyProxy {
  /** The URL to give a worker instead of the API's. */
  readonly url: string;
  /** Every request seen, in the order they arrived. */
  readonly requests: ProxiedRequest[];
  /** Decides what happens to each request; every request passes until it is set. */
  decide: (request: Omit<ProxiedRequest, 'fault' | 'at'>) => Fault;
  /**
   * The `retry-after` an `unavailable` response carries in place of the API's, as a load balancer in front of it
   * may say: for a test that must tell a call sent at once from one sent when `retry-after` says.
   */
  retryAfter?: string;
  /** Holds a request until what it returns settles, before forwarding it (a reset is not held); none unless set. */
  hold?: (request: Omit<ProxiedRequest, 'fault' | 'at'>) => Promise<void> | undefined;
  /**
   * Holds the API's response to a request that passed until what it returns settles, before passing it back: the
   * call has run, and only its response is late. None unless set.
   */
  holdResponse?: (request: Omit<ProxiedRequest, 'fault' | 'at'>, body: string) => Promise<void> | undefined;
  close(): Promise<void>;
}

/** The calls of a tRPC request: `/trpc/a,b?batch=1` with `{ "0": { json }, "1": { json } }` as its body. */
function callsOf(url: string, body: string): ProxiedRequest['calls'] {
  const { pathname } = new URL(url, 'http://proxy');
  const procedures = decodeURIComponent(pathname.replace(/^\/trpc\//, '')).split(',');
  let inputs: Record<string, { json?: unknown }> = {};
  try {
    inputs = body ? (JSON.parse(body) as typeof inputs) : {};
  } catch {
    // Not a tRPC body: its calls are listed without inputs.
  }
  const batched = new URL(url, 'http://proxy').searchParams.get('batch') === '1';
  return procedures.map((procedure, index) => ({
    procedure,
    input: (batched ? inputs[String(index)] : (inputs as { json?: unknown }))?.json,
  }));
}

const readBody = async (stream: http.IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/**
 * A real HTTP proxy in front of a real API that fails the requests `decide` picks: the worker under test talks to
 * it over TCP as it would to the API, and meets the faults a deployment meets (an API restarting, a database
 * restarting behind it).
 */
export async function startFaultyProxy(apiUrl: string): Promise<FaultyProxy> {
  // The API's own code over a database nothing listens on: its 503s are the real ones. Each call logs the refused
  // connection; here that is the point, so the log is left out.
  const unreachable = knex({
    ...knexConfig(`postgres://postgres@127.0.0.1:${await freePort()}/unreachable`, {
      DATABASE_POOL_SIZE: 2,
      // Refused at once, but the pool keeps trying for this long before the API gives up with a 503.
      DATABASE_CONNECT_TIMEOUT_MS: 250,
      DEBUG: false,
    }),
    log: { warn: () => undefined },
  });
  const unavailableApi = await buildApp({ db: unreachable, logger: false, tokens: [], production: false });
  const unavailableUrl = await unavailableApi.listen({ host: '127.0.0.1', port: 0 });

  const forward = async (
    target: string,
    request: http.IncomingMessage,
    body: Buffer,
    signal: AbortSignal,
  ) => {
    const upstream = http.request(new URL(request.url!, target), {
      method: request.method,
      headers: { ...request.headers, host: new URL(target).host },
      signal,
    });
    upstream.end(body);
    const [response] = (await once(upstream, 'response')) as [http.IncomingMessage];
    return { status: response.statusCode!, headers: response.headers, body: await readBody(response) };
  };

  let closing = false;
  const proxy: FaultyProxy = {
    url: '',
    requests: [],
    decide: () => 'pass',
    close: async () => {
      closing = true;
      server.closeAllConnections();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
      await unavailableApi.close();
      await unreachable.destroy();
    },
  };

  const server = http.createServer(async (request, response) => {
    // A caller that gave up (its call cut off, or the proxy closing) is gone for the API too, as it would be
    // without the proxy: a request held meanwhile is never sent, one in flight is cut off.
    const callerGone = new AbortController();
    let seen: ProxiedRequest | undefined;
    response.on('close', () => {
      if (response.writableFinished) return;
      callerGone.abort();
      if (seen) seen.callerLeftAt = Date.now();
    });
    try {
      const body = await readBody(request);
      const calls = callsOf(request.url!, body.toString());
      const fault = proxy.decide({ calls });
      seen = { calls, fault, at: Date.now() };
      proxy.requests.push(seen);
      if (fault === 'reset') return void request.socket.destroy();
      await proxy.hold?.({ calls });
      if (closing || callerGone.signal.aborted) return void request.socket.destroy();
      const target = fault === 'unavailable' ? unavailableUrl : apiUrl;
      const upstream = await forward(target, request, body, callerGone.signal);
      if (fault === 'reset-after') return void request.socket.destroy();
      if (fault === 'pass') await proxy.holdResponse?.({ calls }, upstream.body.toString());
      if (closing || callerGone.signal.aborted) return void request.socket.destroy();
      const { 'transfer-encoding': _chunked, ...headers } = upstream.headers;
      if (fault === 'unavailable' && proxy.retryAfter !== undefined)
        headers['retry-after'] = proxy.retryAfter;
      response.writeHead(upstream.status, { ...headers, 'content-length': upstream.body.length });
      response.end(upstream.body, () => (seen!.respondedAt = Date.now()));
    } catch {
      // The caller went away (its call timed out, or the proxy is closing): nobody is left to respond to.
      request.socket.destroy();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(proxy, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

/** The ids of the jobs a request's calls of `procedure` name: `jobs.completeMany`'s `jobs`, or the call's `id`. */
export function jobIdsOf(request: Pick<ProxiedRequest, 'calls'>, procedure: string): string[] {
  return request.calls
    .filter((call) => call.procedure === procedure)
    .flatMap(({ input }) => {
      const { jobs, id } = (input ?? {}) as { jobs?: { id: string }[]; id?: string };
      return jobs ? jobs.map((job) => job.id) : id ? [id] : [];
    });
}

/**
 * Makes every request carrying a call of `procedure` wait `ms` before it reaches the API, and counts how many wait
 * at once: the most calls of it a caller kept in flight together.
 */
export function slowDown(proxy: FaultyProxy, procedure: string, ms: number): { readonly mostAtOnce: number } {
  let waiting = 0;
  let mostAtOnce = 0;
  proxy.hold = ({ calls }) => {
    if (!calls.some((call) => call.procedure === procedure)) return undefined;
    waiting += 1;
    mostAtOnce = Math.max(mostAtOnce, waiting);
    return new Promise<void>((resolve) =>
      setTimeout(() => {
        waiting -= 1;
        resolve();
      }, ms),
    );
  };
  return {
    get mostAtOnce() {
      return mostAtOnce;
    },
  };
}
