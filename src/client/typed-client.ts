import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  splitLink,
  TRPCClientError,
  type TRPCLink,
} from '@trpc/client';
import { observable } from '@trpc/server/observable';
import type { AppRouter } from '../api/router';
import { clientTransformer } from '../api/wire-format';

export interface ClientOptions {
  /** The server's base URL, for example `http://127.0.0.1:3000`. */
  url: string;
  /** A bearer token the server accepts (`API_TOKEN` or one of `API_TOKENS`), when it has any. */
  token?: string;
}

/**
 * A call that never got a tRPC response: the server could not be reached, or responded with something that is not one of
 * its error shapes (a proxy's page, a refused connection). `code` is always `TRANSPORT_ERROR`; `httpStatus` is the
 * status when a response came. Safe to retry for queries; a mutation may or may not have run.
 */
export class TransportError extends TRPCClientError<AppRouter> {
  readonly code = 'TRANSPORT_ERROR';
  readonly httpStatus: number | undefined;

  constructor(cause: TRPCClientError<AppRouter>) {
    super(cause.message, { cause, meta: cause.meta });
    // TRPCClientError's constructor resets the prototype to its own; `instanceof TransportError` needs ours.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = 'TransportError';
    const response = cause.meta?.response as { status?: unknown } | undefined;
    this.httpStatus = typeof response?.status === 'number' ? response.status : undefined;
  }
}

/**
 * An error response that is not JSON (a proxy's or load balancer's page) would fail to parse before tRPC keeps the
 * response, losing its status and `Retry-After`: it is rejected here instead, with the response kept on `meta`.
 */
const fetchKeepingErrorPages = async (...[input, init]: Parameters<typeof fetch>) => {
  const response = await fetch(input, init);
  if (response.ok || /json/i.test(response.headers.get('content-type') ?? '')) return response;
  await response.body?.cancel();
  throw new TRPCClientError(`the server responded ${response.status} without the API's JSON`, {
    meta: { response },
  });
};

/** Errors without a server-shaped body become `TransportError`s; the server's own errors pass as they are. */
const transportErrors: TRPCLink<AppRouter> =
  () =>
  ({ op, next }) =>
    observable((observer) =>
      next(op).subscribe({
        next: (value) => observer.next(value),
        error: (error) => observer.error(error.shape === undefined ? new TransportError(error) : error),
        complete: () => observer.complete(),
      }),
    );

/**
 * Batches stay well inside what the server reads: Node rejects a request head over 16 KiB with 431, and the
 * server rejects a batch of more calls than its limit, which its configuration never sets below `maxItems`.
 */
export const clientBatchLimits = { maxURLLength: 8_000, maxItems: 50 } as const;

/** Claims may wait for work (`waitMs`); batched with other calls, they would hold those calls' responses back. */
const unbatched = new Set(['jobs.claim']);

/** A typed client: every procedure's input and output are inferred from the server's router. */
export function createClient({ url, token }: ClientOptions) {
  const http = {
    url: `${url.replace(/\/$/, '')}/trpc`,
    transformer: clientTransformer,
    headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
    fetch: fetchKeepingErrorPages,
  };
  return createTRPCClient<AppRouter>({
    links: [
      transportErrors,
      splitLink({
        condition: (op) => unbatched.has(op.path),
        true: httpLink(http),
        false: httpBatchLink({ ...http, ...clientBatchLimits }),
      }),
    ],
  });
}
