import type { CreateFastifyContextOptions } from '@trpc/server/adapters/fastify';

export interface Context {
  /** The `Authorization` header as sent, if any. */
  authorization: string | undefined;
  /** The token every call must present; undefined when auth is off. */
  apiToken: string | undefined;
  /** Hides error details from answers. */
  production: boolean;
}

export interface ContextSettings {
  apiToken: string | undefined;
  production: boolean;
}

/** The context for HTTP calls, built from the request. */
export function contextFactory(settings: ContextSettings) {
  return ({ req }: CreateFastifyContextOptions): Context => ({
    authorization: req.headers.authorization,
    ...settings,
  });
}
