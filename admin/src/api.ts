import { TRPCClientError } from '@trpc/client';
import type { inferRouterInputs, inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../../src/api/router';
import { createClient } from '../../src/client/typed-client';

export type Client = ReturnType<typeof createClient>;
export type Outputs = inferRouterOutputs<AppRouter>;
export type Inputs = inferRouterInputs<AppRouter>;
export type Job = Outputs['jobs']['get'];
export type Role = 'reader' | 'worker' | 'admin';

/** Who the page acts as: the server's response to `/admin/role` for the token it holds. */
export interface Caller {
  role: Role;
  tokensRequired: boolean;
}

/**
 * The token lives as long as the tab: sessionStorage survives a reload but not the tab, and no other tab or
 * later visit reads it, as localStorage would let them.
 */
const tokenKey = 'tubesensei-admin-token';
export const tokenStore = {
  read: (): string | undefined => sessionStorage.getItem(tokenKey) ?? undefined,
  write: (token: string) => sessionStorage.setItem(tokenKey, token),
  clear: () => sessionStorage.removeItem(tokenKey),
};

/** The caller a token makes, or `unauthorized` when the server takes tokens and knows not this one. */
export async function callerFor(token: string | undefined): Promise<Caller | 'unauthorized'> {
  const response = await fetch('/admin/role', {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    cache: 'no-store',
  });
  if (response.status === 401) return 'unauthorized';
  if (!response.ok) throw new Error(`the server responded ${response.status} to /admin/role`);
  return (await response.json()) as Caller;
}

export const connect = (token: string | undefined): Client => createClient({ url: location.origin, token });

/** What to tell the operator about a failed call: the API's own message where it gave one. */
export function messageOf(error: unknown): string {
  if (error instanceof TRPCClientError || error instanceof Error) return error.message;
  return String(error);
}

/** The API's error code (`NOT_FOUND`, `FORBIDDEN`, ...) of a failed call, if it gave one. */
export const codeOf = (error: unknown): string | undefined =>
  error instanceof TRPCClientError ? (error.data as { code?: string } | undefined)?.code : undefined;
