import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from './api/router';

export type { AppRouter } from './api/router';

export interface ClientOptions {
  /** The server's base URL, for example `http://127.0.0.1:3000`. */
  url: string;
  /** The server's `API_TOKEN`, when it has one. */
  token?: string;
}

/** A typed client: every procedure's input and output are inferred from the server's router. */
export function createClient({ url, token }: ClientOptions) {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${url.replace(/\/$/, '')}/trpc`,
        transformer: superjson,
        headers: () => (token ? { authorization: `Bearer ${token}` } : {}),
      }),
    ],
  });
}
